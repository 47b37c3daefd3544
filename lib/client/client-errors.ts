import { ClaudeRxError } from '../claude-rx-error.js';
import type { SseErrorData } from '../sse/sse-frame.js';

/**
 * The server ended the stream with an `error` event: `type`, a fixed `message` and `retryable` say what a client may
 * know (never the upstream's own message).
 *
 * @example
 * ```ts
 * import { ClaudeSseError } from 'claude-rx/client';
 * if (error instanceof ClaudeSseError && error.retryable) showRetryButton();
 * ```
 */
export class ClaudeSseError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_SSE_ERROR';
  override readonly name = 'ClaudeSseError';
  readonly code = 'CLAUDE_RX_SSE_ERROR';
  /** The kind of failure (`rate_limit_error`, `overloaded_error`, `stream_lost`, ...). */
  readonly type: string;
  /** Whether sending the same request again later may succeed. */
  readonly retryable: boolean;

  constructor(data: Partial<SseErrorData>) {
    super(typeof data.message === 'string' ? data.message : 'The stream failed');
    this.type = typeof data.type === 'string' ? data.type : 'upstream_error';
    this.retryable = data.retryable === true;
  }
}

/**
 * The server answered with an HTTP error instead of a stream: before the first event (429 with `retryAfterMs`, 503,
 * 502, 504, the app's own 400 or 401), or when a reconnect was refused (404: the stream is gone).
 *
 * @example
 * ```ts
 * import { ClaudeSseHttpError } from 'claude-rx/client';
 * if (error instanceof ClaudeSseHttpError && error.status === 429) wait(error.retryAfterMs ?? 5_000);
 * ```
 */
export class ClaudeSseHttpError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_SSE_HTTP';
  override readonly name = 'ClaudeSseHttpError';
  readonly code = 'CLAUDE_RX_SSE_HTTP';

  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The `type` of a claude-rx error body, when it had one (`rate_limit_error`, ...). */
    readonly type: string | undefined,
    message: string,
    /** The `Retry-After` the server sent, in milliseconds. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/**
 * The connection was lost and could not be resumed: the stream is not resumable (the server runs without `resume`),
 * or every reconnect failed (`reconnect.maxAttempts`).
 *
 * @example
 * ```ts
 * import { ClaudeSseConnectionError } from 'claude-rx/client';
 * if (error instanceof ClaudeSseConnectionError) banner('Connection lost');
 * ```
 */
export class ClaudeSseConnectionError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_SSE_CONNECTION';
  override readonly name = 'ClaudeSseConnectionError';
  readonly code = 'CLAUDE_RX_SSE_CONNECTION';

  constructor(
    message: string,
    /** The reconnects tried. */
    readonly attempts: number,
    /** The last connection's failure, when there was one. */
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}
