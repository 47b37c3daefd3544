import { ClaudeRxError } from '../lib/index.js';

/**
 * The application is shutting down: `ClaudeStreamService` ended a call it had open (aborting its upstream request),
 * or refused a new one. Reported as a `server_shutdown` error event by the SSE helpers, and as a 503 by `sse()`
 * before the first event.
 *
 * @example
 * ```ts
 * import { ClaudeStreamShutdownError } from 'claude-rx/nest';
 *
 * claude.text(params).subscribe({
 *   error: (err) => {
 *     if (err instanceof ClaudeStreamShutdownError) return; // expected during a deploy
 *     logger.error(err);
 *   },
 * });
 * ```
 */
export class ClaudeStreamShutdownError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_SHUTDOWN';
  override readonly name = 'ClaudeStreamShutdownError';
  readonly code = 'CLAUDE_RX_SHUTDOWN';

  constructor() {
    super('The application is shutting down: the Claude stream was aborted');
  }
}
