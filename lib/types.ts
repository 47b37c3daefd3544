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
 * One event of a beta Messages API stream (`client.beta.messages`), exactly as the SDK types it: the events of
 * `ClaudeStreamEvent` with the beta block and delta kinds (compaction, MCP tool use and results, fallback...).
 *
 * @example
 * ```ts
 * import type { ClaudeBetaStreamEvent } from 'claude-rx';
 * const isCompaction = (e: ClaudeBetaStreamEvent) => e.type === 'content_block_delta' && e.delta.type === 'compaction_delta';
 * ```
 */
export type ClaudeBetaStreamEvent = Anthropic.Beta.Messages.BetaRawMessageStreamEvent;

/**
 * Any Claude client for the Messages API, typed by what claude-rx calls: `messages.create`. `Anthropic` and the
 * platform clients (`AnthropicBedrock`, `AnthropicVertex`, `AnthropicFoundry`) all are one.
 *
 * @example
 * ```ts
 * import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
 * import type { ClaudeClient } from 'claude-rx';
 *
 * const client: ClaudeClient = new AnthropicVertex({ region: 'us-east5', projectId: 'my-project' });
 * ```
 */
export interface ClaudeClient {
  readonly messages: Pick<Anthropic['messages'], 'create'>;
}

/**
 * Any Claude client for the beta Messages API, typed by what claude-rx calls: `beta.messages.create`. `Anthropic`
 * and the platform clients all are one.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import type { ClaudeBetaClient } from 'claude-rx';
 *
 * const client: ClaudeBetaClient = new Anthropic();
 * ```
 */
export interface ClaudeBetaClient {
  readonly beta: { readonly messages: Pick<Anthropic['beta']['messages'], 'create'> };
}

/**
 * The request body of a streamed beta Messages API call, without `stream`: the beta parameters, with the `betas` to
 * enable. Params that carry `betas` go through `client.beta.messages`.
 *
 * @example
 * ```ts
 * import type { ClaudeBetaStreamParams } from 'claude-rx';
 * const params: ClaudeBetaStreamParams = {
 *   model: 'claude-sonnet-5-5',
 *   max_tokens: 1024,
 *   betas: ['compact-2026-01-12'],
 *   messages: [{ role: 'user', content: 'Hello' }],
 * };
 * ```
 */
export type ClaudeBetaStreamParams = Omit<Anthropic.Beta.Messages.MessageCreateParamsStreaming, 'stream' | 'betas'> & {
  /** The betas to enable (the `anthropic-beta` header). */
  readonly betas: readonly Anthropic.Beta.AnthropicBeta[];
};

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
export type ClaudeStreamParams = Omit<Anthropic.Messages.MessageCreateParamsStreaming, 'stream'> & {
  /** None here: params with `betas` are `ClaudeBetaStreamParams`, sent through `client.beta.messages`. */
  readonly betas?: undefined;
};

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
 * What the claude-rx operators accept: the stream's events (of the beta API too), the restart marker of
 * `retryOnRateLimit`, and the `turn_start` / `turn_end` / `tool_result` markers of `runTools` (which the content
 * operators skip).
 *
 * @example
 * ```ts
 * import type { ClaudeRxEvent } from 'claude-rx';
 * function log(event: ClaudeRxEvent) { console.log(event.type); }
 * ```
 */
export type ClaudeRxEvent = ClaudeStreamEvent | ClaudeBetaStreamEvent | StreamRestartEvent | RunToolsMarker;

/**
 * Tells whether request params go through the beta API: they carry `betas`.
 *
 * @example
 * ```ts
 * import { isBetaParams } from 'claude-rx';
 * isBetaParams({ model: 'm', max_tokens: 1, messages: [], betas: ['compact-2026-01-12'] }); // true
 * ```
 */
export function isBetaParams(params: object): params is ClaudeBetaStreamParams {
  return (params as { betas?: unknown }).betas !== undefined;
}

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
