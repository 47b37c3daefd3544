import type { ClaudeBetaStreamEvent, ClaudeStreamEvent } from '../types.js';
import type { SseRestartData } from '../sse/sse-frame.js';

/**
 * The `turn_start` event of a tool-use run (`sseRunTools`), as the wire carries it.
 *
 * @example
 * ```ts
 * import type { WireTurnStart } from 'claude-rx/client';
 * const event: WireTurnStart = { type: 'turn_start', turn: 1 };
 * ```
 */
export interface WireTurnStart {
  readonly type: 'turn_start';
  readonly turn: number;
}

/**
 * The `turn_end` event of a tool-use run, as the wire carries it (the stop reason, not the whole conversation).
 *
 * @example
 * ```ts
 * import type { WireTurnEnd } from 'claude-rx/client';
 * const event: WireTurnEnd = { type: 'turn_end', turn: 1, stop_reason: 'tool_use' };
 * ```
 */
export interface WireTurnEnd {
  readonly type: 'turn_end';
  readonly turn: number;
  readonly stop_reason: string | null;
}

/**
 * The `tool_result` event of a tool-use run, as the wire carries it: for a failed call, a fixed `content`.
 *
 * @example
 * ```ts
 * import type { WireToolResult } from 'claude-rx/client';
 * const event: WireToolResult = {
 *   type: 'tool_result', turn: 1, tool_use_id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' },
 *   content: '18°C', is_error: false,
 * };
 * ```
 */
export interface WireToolResult {
  readonly type: 'tool_result';
  readonly turn: number;
  readonly tool_use_id: string;
  readonly name: string;
  readonly input: unknown;
  readonly content: unknown;
  readonly is_error: boolean;
}

/**
 * What `claudeSse` emits: the stream events of Claude's Messages API (of the beta API too), exactly as the SDK types
 * them, and the markers of claude-rx's wire format (a retry's `stream_restart`, a tool-use run's turns and results).
 * The operators of `claude-rx/client` take them.
 *
 * @example
 * ```ts
 * import { claudeSse, type ClaudeClientEvent } from 'claude-rx/client';
 * claudeSse('/chat/stream?q=hi').subscribe((event: ClaudeClientEvent) => console.log(event.type));
 * ```
 */
export type ClaudeClientEvent =
  ClaudeStreamEvent | ClaudeBetaStreamEvent | SseRestartData | WireTurnStart | WireTurnEnd | WireToolResult;

/** The event names of the wire that carry a `ClaudeClientEvent` (the others: `error`, `done`, `stopped`). */
export const CLIENT_EVENT_NAMES: ReadonlySet<string> = new Set([
  'message_start',
  'message_delta',
  'message_stop',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'stream_restart',
  'turn_start',
  'turn_end',
  'tool_result',
]);
