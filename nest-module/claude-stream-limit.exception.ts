import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * What `ClaudeStreamService.sse()` and `sseRunTools()` reject with, in resume mode, when the owner already has
 * `resume.maxStreamsPerOwner` live streams: Nest answers 429 and nothing is sent upstream. The owner may `stop()` one,
 * or wait for one to end.
 *
 * @example
 * ```ts
 * import { ClaudeStreamLimitException } from 'claude-rx/nest';
 * if (error instanceof ClaudeStreamLimitException) this.logger.log(`user ${user.id} has too many streams open`);
 * ```
 */
export class ClaudeStreamLimitException extends HttpException {
  constructor(
    /** The limit that was reached. */
    readonly limit: number,
    options?: { cause?: unknown },
  ) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message: 'Too many streams are open; stop one or wait for one to end',
      },
      HttpStatus.TOO_MANY_REQUESTS,
      options,
    );
    this.name = 'ClaudeStreamLimitException';
  }
}
