import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * What `ClaudeStreamService.sse()` and `sseRunTools()` reject with when the request carries a `Last-Event-ID` (an
 * `EventSource` reconnecting) and there is nothing to resume: resumable streams are off (`resume` not set), or the id
 * is that of the stream's final event (`done`, `error`, `stopped`: the client has everything); `resume()` too. Nest
 * answers 204 No Content, which tells an `EventSource` to stop reconnecting. No request goes upstream: a reconnect
 * must never start a new, paid generation.
 *
 * It is an answer, not a failure: it is not logged as one, and its body is empty.
 *
 * @example
 * ```ts
 * import { ClaudeStreamNotResumableException } from 'claude-rx/nest';
 *
 * try {
 *   return await this.claude.sse(params, { lastEventId, signal });
 * } catch (error) {
 *   if (error instanceof ClaudeStreamNotResumableException) this.metrics.reconnectsRefused++;
 *   throw error;
 * }
 * ```
 */
export class ClaudeStreamNotResumableException extends HttpException {
  constructor(
    /** The `Last-Event-ID` the request carried. */
    readonly lastEventId: string,
  ) {
    super('', HttpStatus.NO_CONTENT);
    this.name = 'ClaudeStreamNotResumableException';
  }
}
