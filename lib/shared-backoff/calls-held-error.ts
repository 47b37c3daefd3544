import { ClaudeRxError } from '../claude-rx-error.js';

/**
 * A call was not sent: the API asked (a 429 or 529 with `retry-after`, seen by any call sharing the store) that calls
 * with this key and model wait, for longer than this call may wait. Nothing went upstream. Reported as a
 * `rate_limit_error`; `sse()` answers it with 429 and the remaining `Retry-After`.
 *
 * @example
 * ```ts
 * import { CallsHeldError } from 'claude-rx';
 * if (error instanceof CallsHeldError) console.log(`try again in ${Math.ceil(error.retryAfterMs / 1000)} s`);
 * ```
 */
export class CallsHeldError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_CALLS_HELD';
  override readonly name = 'CallsHeldError';
  readonly code = 'CLAUDE_RX_CALLS_HELD';

  constructor(
    /** How much longer the calls are held, in milliseconds. */
    readonly retryAfterMs: number,
  ) {
    super(`Calls for this key and model are held for ${retryAfterMs} ms more, as the API asked`);
  }
}
