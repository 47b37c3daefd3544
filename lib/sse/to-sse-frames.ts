import type Anthropic from '@anthropic-ai/sdk';
import { Observable, type OperatorFunction } from 'rxjs';
import { isRunToolsMarker, type RunToolsMarker } from '../run-tools-markers.js';
import { isStreamRestart, type ClaudeBetaStreamEvent, type ClaudeRxEvent, type ClaudeStreamEvent } from '../types.js';
import { wireDataOf } from '../wire/wire-data.js';
import { describeFailure } from './describe-failure.js';
import type { SseErrorData, SseFrame, SseRestartData } from './sse-frame.js';

/**
 * Names an event for `SseFramesOptions.events`: a stream event type (`message_start`, `content_block_delta`, ...), a
 * delta type (`text_delta`, `thinking_delta`, ...) to keep only the `content_block_delta` events carrying it, or a
 * runTools marker.
 *
 * @example
 * ```ts
 * import type { SseEventSelector } from 'claude-rx';
 * const textOnly: readonly SseEventSelector[] = ['text_delta'];
 * ```
 */
export type SseEventSelector =
  | Anthropic.Messages.RawMessageStreamEvent['type']
  | Anthropic.Beta.Messages.BetaRawContentBlockDelta['type']
  | RunToolsMarker['type'];

/**
 * What `SseFramesOptions.events` is asked about: a stream event (of the beta API too) or a runTools marker.
 *
 * @example
 * ```ts
 * import { toSseFrames, type SseFilteredEvent } from 'claude-rx';
 *
 * const textAndTools = (event: SseFilteredEvent) => event.type === 'tool_result' || event.type === 'content_block_delta';
 * toSseFrames({ events: textAndTools });
 * ```
 */
export type SseFilteredEvent = ClaudeStreamEvent | ClaudeBetaStreamEvent | RunToolsMarker;

/**
 * Options of `toSseFrames` (and of `toSse`).
 *
 * @example
 * ```ts
 * import type { SseFramesOptions } from 'claude-rx';
 * const options: SseFramesOptions = { events: ['text_delta', 'thinking_delta'] };
 * ```
 */
export interface SseFramesOptions {
  /**
   * Which stream events go out: a list of event or delta types (`['text_delta', 'thinking_delta']` sends only the
   * text and thinking deltas), or a predicate. `stream_restart`, `error` and `done` always go out.
   * @defaultValue every event
   */
  readonly events?: readonly SseEventSelector[] | ((event: SseFilteredEvent) => boolean);
}

const EVENT_TYPES: ReadonlySet<string> = new Set<Anthropic.Messages.RawMessageStreamEvent['type']>([
  'message_start',
  'message_delta',
  'message_stop',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
]);
// A `Record` so that the compiler lists every kind the SDK knows, beta ones included.
const DELTA_TYPES: ReadonlySet<string> = new Set(
  Object.keys({
    text_delta: true,
    input_json_delta: true,
    citations_delta: true,
    thinking_delta: true,
    signature_delta: true,
    compaction_delta: true,
  } satisfies Record<Anthropic.Beta.Messages.BetaRawContentBlockDelta['type'], true>),
);
const MARKER_TYPES: ReadonlySet<string> = new Set<RunToolsMarker['type']>(['turn_start', 'turn_end', 'tool_result']);

/** The `data` of the `done` event. */
const DONE_DATA = '{}';

/**
 * The `content` of a failed call's `tool_result` event. The model is told why (the text is its to read, per the API's
 * contract), the browser is not: a tool's thrown message may hold internals (a connection string, a path, a query).
 */
const TOOL_FAILED_CONTENT = 'The tool call failed.';

/**
 * What a client is told of a runTools marker: the turn, and for a tool call its input and, when it succeeded, its
 * output. Not the whole conversation of `turn_end` (it grows every turn), nor a failure's text (see
 * `TOOL_FAILED_CONTENT`).
 */
function markerData(marker: RunToolsMarker): object {
  switch (marker.type) {
    case 'turn_start':
      return { type: marker.type, turn: marker.turn };
    case 'turn_end':
      return { type: marker.type, turn: marker.turn, stop_reason: marker.message.stop_reason };
    case 'tool_result':
      return {
        type: marker.type,
        turn: marker.turn,
        tool_use_id: marker.toolUseId,
        name: marker.name,
        input: marker.input,
        content: marker.isError ? TOOL_FAILED_CONTENT : marker.result.content,
        is_error: marker.isError,
      };
    default: {
      const unknown: never = marker;
      return unknown;
    }
  }
}

function keepFor(events: SseFramesOptions['events'], caller: string): (event: SseFilteredEvent) => boolean {
  if (events === undefined) return () => true;
  if (typeof events === 'function') return events;
  if (!Array.isArray(events)) {
    throw new TypeError(`${caller}: events must be a list of event or delta types, or a predicate`);
  }
  const names = new Set<string>();
  for (const name of events as readonly unknown[]) {
    if (typeof name !== 'string' || (!EVENT_TYPES.has(name) && !DELTA_TYPES.has(name) && !MARKER_TYPES.has(name))) {
      throw new TypeError(
        `${caller}: events has ${JSON.stringify(name)}, which is neither a stream event type (${[...EVENT_TYPES].join(', ')}) ` +
          `nor a delta type (${[...DELTA_TYPES].join(', ')}) nor a runTools marker (${[...MARKER_TYPES].join(', ')})`,
      );
    }
    names.add(name);
  }
  return (event) => names.has(event.type) || (event.type === 'content_block_delta' && names.has(event.delta.type));
}

/**
 * Turns Claude stream events (of `claudeStream` or `runTools`) into the frames of claude-rx's SSE wire format, without
 * ids or heartbeats (`toSse` in `claude-rx/nest`, and `serveSse`, add them):
 *
 * - each kept event: its type as the event name, the event as JSON as its `data`; a runTools marker as
 *   `turn_start` / `turn_end` / `tool_result` with a summary (a failed tool's text is never sent); a
 *   `stream_restart` marker without its error;
 * - complete: a final `done` frame (data `{}`), then complete;
 * - error: one `error` frame whose data is `SseErrorData` (a fixed message per kind of failure), then complete;
 * - unsubscribe: unsubscribes the source (which aborts the upstream request).
 *
 * @param options `events`: which events go out.
 * @returns An operator from stream events to `SseFrame`s. Throws a `TypeError` at once for bad options.
 *
 * @example
 * ```ts
 * import { claudeStream, toSseFrames } from 'claude-rx';
 *
 * claudeStream(client, params)
 *   .pipe(toSseFrames({ events: ['text_delta'] }))
 *   .subscribe(({ type, data }) => response.write(`event: ${type}\ndata: ${data}\n\n`));
 * ```
 */
export function toSseFrames(
  options: SseFramesOptions = {},
  caller = 'toSseFrames',
): OperatorFunction<ClaudeRxEvent, SseFrame> {
  if (options === null || typeof options !== 'object') throw new TypeError(`${caller}: options must be an object`);
  const keep = keepFor(options.events, caller);

  return (source) =>
    new Observable<SseFrame>((subscriber) => {
      const fail = (error: unknown) => {
        const { type, message, retryable } = describeFailure(error);
        const data: SseErrorData = { type, message, retryable };
        subscriber.next({ type: 'error', data: JSON.stringify(data) });
        subscriber.complete();
      };
      // Completing the subscriber (in `fail`, or by the consumer leaving) unsubscribes the source, which aborts the
      // request.
      return source.subscribe({
        next(event) {
          if (isStreamRestart(event)) {
            const data: SseRestartData = { type: 'stream_restart', attempt: event.attempt, delayMs: event.delayMs };
            subscriber.next({ type: 'stream_restart', data: JSON.stringify(data) });
            return;
          }
          let kept: boolean;
          try {
            kept = keep(event);
          } catch (error) {
            fail(error);
            return;
          }
          if (kept) {
            // The data the event came with, when it is that very event (see `wireDataOf`): not serialized again.
            const data = isRunToolsMarker(event)
              ? JSON.stringify(markerData(event))
              : (wireDataOf(event) ?? JSON.stringify(event));
            subscriber.next({ type: event.type, data });
          }
        },
        error: fail,
        complete() {
          subscriber.next({ type: 'done', data: DONE_DATA });
          subscriber.complete();
        },
      });
    });
}
