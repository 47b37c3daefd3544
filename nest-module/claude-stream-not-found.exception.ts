import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * What `ClaudeStreamService.resume()`, and `sse()` with a `Last-Event-ID`, reject with when there is no such stream for
 * this owner: unknown, forged, expired, another owner's (not told apart, so that ids cannot be probed), or whose
 * events after the id were dropped (`resume.maxEvents`). Nest answers 404, with no event; an `EventSource` stops.
 *
 * @example
 * ```ts
 * import { ClaudeStreamNotFoundException } from 'claude-rx/nest';
 *
 * try {
 *   return await this.claude.resume(lastEventId, { owner: user.id });
 * } catch (error) {
 *   if (error instanceof ClaudeStreamNotFoundException) this.metrics.resumesTooLate++;
 *   throw error;
 * }
 * ```
 */
export class ClaudeStreamNotFoundException extends HttpException {
  constructor(options?: { cause?: unknown }) {
    super(
      { statusCode: HttpStatus.NOT_FOUND, error: 'Not Found', message: 'No such stream' },
      HttpStatus.NOT_FOUND,
      options,
    );
    this.name = 'ClaudeStreamNotFoundException';
  }
}
