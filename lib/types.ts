import type Anthropic from '@anthropic-ai/sdk';
import type { RunToolsMarker } from './run-tools-markers.js';

/**
 * One event of a Messages API stream, exactly as the SDK types it: `message_start`, `content_block_start`,
 * `content_block_delta` (text, input JSON, citations, thinking and signature deltas), `content_block_stop`,
 * `message_delta` and `message_stop`.
 *
 * @example
 * ```ts
 * import type { ClaudeStreamEvent } from 'claude-rx';
 * const isText = (e: ClaudeStreamEvent) => e.type === 'content_block_delta' && e.delta.type === 'text_delta';
 * ```
 */
export type ClaudeStreamEvent = Anthropic.Messages.RawMessageStreamEvent;

/**
 * The request body of a streamed Messages API call, without `stream` (claude-rx always streams).
 *
 * @example
 * ```ts
 * import type { ClaudeStreamParams } from 'claude-rx';
 * const params: ClaudeStreamParams = {
 *   model: 'claude-sonnet-5-5',
 *   max_tokens: 1024,
 *   messages: [{ role: 'user', content: 'Hello' }],
 * };
 * ```
 */
export type ClaudeStreamParams = Omit<Anthropic.Messages.MessageCreateParamsStreaming, 'stream'>;

/**
 * Per-request options passed to the SDK (`signal`, `timeout`, `headers`, `maxRetries`, ...).
 *
 * @example
 * ```ts
 * import type { ClaudeRequestOptions } from 'claude-rx';
 * const options: ClaudeRequestOptions = { signal: AbortSignal.timeout(60_000), maxRetries: 0 };
 * ```
 */
export type ClaudeRequestOptions = Anthropic.RequestOptions;

/**
 * A marker that `retryOnRateLimit({ restartAfterContent: true })` emits before it replays a stream that had
 * already delivered content: everything emitted since the last `message_start` is void and the message starts
 * again. `accumulateMessage()`, `finalMessage()` and the SSE helpers understand it.
 *
 * @example
 * ```ts
 * import { isStreamRestart } from 'claude-rx';
 * events$.subscribe((e) => { if (isStreamRestart(e)) clearScreen(); });
 * ```
 */
export interface StreamRestartEvent {
  readonly type: 'stream_restart';
  /** The retry attempt that follows (1 for the first retry). */
  readonly attempt: number;
  /** How long the retry waited before re-subscribing, in milliseconds. */
  readonly delayMs: number;
  /** The error that interrupted the previous attempt. */
  readonly error: unknown;
}

/**
 * What the claude-rx operators accept: the stream's events, the restart marker of `retryOnRateLimit`, and the
 * `turn_start` / `turn_end` / `tool_result` markers of `runTools` (which the content operators skip).
 *
 * @example
 * ```ts
 * import type { ClaudeRxEvent } from 'claude-rx';
 * function log(event: ClaudeRxEvent) { console.log(event.type); }
 * ```
 */
export type ClaudeRxEvent = ClaudeStreamEvent | StreamRestartEvent | RunToolsMarker;

/**
 * Tells whether an event is the restart marker emitted by `retryOnRateLimit({ restartAfterContent: true })`.
 *
 * @example
 * ```ts
 * import { isStreamRestart } from 'claude-rx';
 * if (isStreamRestart(event)) console.log('restarting after', event.delayMs, 'ms');
 * ```
 */
export function isStreamRestart(event: { readonly type: string }): event is StreamRestartEvent {
  return event.type === 'stream_restart';
}
