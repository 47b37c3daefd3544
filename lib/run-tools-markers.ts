import type Anthropic from '@anthropic-ai/sdk';

type Message = Anthropic.Messages.Message;
type MessageParam = Anthropic.Messages.MessageParam;
type ToolResultBlockParam = Anthropic.Messages.ToolResultBlockParam;

/** Emitted before each request of `runTools`: the events that follow, up to the next `turn_end`, are of this turn. */
export interface TurnStartEvent {
  readonly type: 'turn_start';
  /** 1 for the first request. */
  readonly turn: number;
}

/** Emitted after a turn's `message_stop`, with the complete message. */
export interface TurnEndEvent {
  readonly type: 'turn_end';
  readonly turn: number;
  /** The assistant message, as the SDK's `finalMessage()` gives it (frozen). */
  readonly message: Message;
  /** The whole conversation so far, ending with this assistant message (frozen). */
  readonly messages: readonly MessageParam[];
}

/** Emitted when a tool call of a turn has its result, in the order the calls finish. */
export interface ToolResultEvent {
  readonly type: 'tool_result';
  /** The turn whose message called the tool. */
  readonly turn: number;
  /** The `tool_use` block's id. */
  readonly toolUseId: string;
  /** The tool's name, as Claude called it. */
  readonly name: string;
  /** The input as Claude sent it. */
  readonly input: unknown;
  /** The block sent back to Claude in the next request. */
  readonly result: ToolResultBlockParam;
  /** The tool was unknown, its input invalid, or it failed: `result.is_error` is set. */
  readonly isError: boolean;
  /** What the tool threw (or how its result could not be sent), when it failed. */
  readonly error?: unknown;
}

/** The events `runTools` adds to the stream events: they say where each turn starts and ends, and what tools did. */
export type RunToolsMarker = TurnStartEvent | TurnEndEvent | ToolResultEvent;

/**
 * Tells a `RunToolsMarker` (`turn_start`, `turn_end`, `tool_result`) from a stream event.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import { isRunToolsMarker, runTools } from 'claude-rx';
 *
 * runTools(client, params, { tools }).pipe(filter(isRunToolsMarker)).subscribe((marker) => console.log(marker.type));
 * ```
 */
export function isRunToolsMarker(event: { readonly type: string }): event is RunToolsMarker {
  // Compared one by one, not looked up in a Set: every operator asks this of every event, and an event's `type` comes
  // fresh from JSON.parse, so a Set would hash the string each time (measured: 1% of the SDK's cost per event).
  const type = event.type;
  return type === 'turn_start' || type === 'turn_end' || type === 'tool_result';
}
