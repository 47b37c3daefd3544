import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * What `ClaudeStreamService.resume()` and `stop()`, and `sse()` with a `Last-Event-ID`, reject with when the id is
 * neither a stream id nor an event id of claude-rx: Nest answers 400. The id is not repeated (it came from a client).
 *
 * @example
 * ```ts
 * import { ClaudeStreamIdException } from 'claude-rx/nest';
 * if (error instanceof ClaudeStreamIdException) this.logger.debug('a malformed Last-Event-ID');
 * ```
 */
export class ClaudeStreamIdException extends HttpException {
  constructor(options?: { cause?: unknown }) {
    super(
      { statusCode: HttpStatus.BAD_REQUEST, error: 'Bad Request', message: 'Not a stream id or an event id' },
      HttpStatus.BAD_REQUEST,
      options,
    );
    this.name = 'ClaudeStreamIdException';
  }
}
