import type { ClaudeFailureType } from './describe-failure.js';

/**
 * One SSE event of claude-rx's wire format, before it has an id: its event name (`type`: a stream event type, a
 * runTools marker, `stream_restart`, `error`, `done` or `stopped`) and its `data`, one line of JSON (newlines in the
 * model's text are escaped, so that no text can forge a frame).
 *
 * @example
 * ```ts
 * import type { SseFrame } from 'claude-rx';
 * const done: SseFrame = { type: 'done', data: '{}' };
 * ```
 */
export interface SseFrame {
  readonly type: string;
  readonly data: string;
}

/**
 * An `SseFrame` with its `id`: a number counting from 1, or for a resumable stream `<stream id>.<position>`. It has
 * the shape of Nest's `MessageEvent`, so that it can be returned from an `@Sse()` handler.
 *
 * @example
 * ```ts
 * import type { SseMessage } from 'claude-rx';
 * const first: SseMessage = { id: '1', type: 'message_start', data: '{"type":"message_start",...}' };
 * ```
 */
export interface SseMessage extends SseFrame {
  readonly id: string;
}

/**
 * An SSE comment line (`: heartbeat`), written to keep an idle connection open; clients ignore it.
 *
 * @example
 * ```ts
 * import type { SseComment } from 'claude-rx';
 * const heartbeat: SseComment = { comment: 'heartbeat' };
 * ```
 */
export interface SseComment {
  readonly comment: string;
}

/**
 * The `data` of the `error` event: what a client may know, nothing of the upstream's message, headers or stack.
 *
 * @example
 * ```ts
 * import type { SseErrorData } from 'claude-rx';
 * const data = JSON.parse(event.data) as SseErrorData; // { type: 'overloaded_error', message: '…', retryable: true }
 * ```
 */
export interface SseErrorData {
  /** The kind of failure. */
  readonly type: ClaudeFailureType;
  /** A fixed, human-readable message for that kind. */
  readonly message: string;
  /** Whether sending the same request again later may succeed. */
  readonly retryable: boolean;
}

/**
 * The `data` of the `stream_restart` event: the stream starts over, drop what was shown since `message_start`.
 *
 * @example
 * ```ts
 * import type { SseRestartData } from 'claude-rx';
 * const data = JSON.parse(event.data) as SseRestartData; // { type: 'stream_restart', attempt: 1, delayMs: 1000 }
 * ```
 */
export interface SseRestartData {
  readonly type: 'stream_restart';
  /** The retry attempt that follows (1 for the first retry). */
  readonly attempt: number;
  /** How long the retry waited, in milliseconds. */
  readonly delayMs: number;
}

/**
 * The `data` of the `stopped` event, the final event of a resumable stream that was stopped: by `stop()` (`stop`),
 * or because no reader was attached for `graceMs` (`no_reader`).
 *
 * @example
 * ```ts
 * import type { SseStoppedData } from 'claude-rx';
 * const data = JSON.parse(event.data) as SseStoppedData; // { reason: 'stop' }
 * ```
 */
export interface SseStoppedData {
  readonly reason: 'stop' | 'no_reader';
}
