import type Anthropic from '@anthropic-ai/sdk';
import type { MessageEvent } from '@nestjs/common';
import { asyncScheduler, Observable, type OperatorFunction, type Subscription } from 'rxjs';
import {
  isRunToolsMarker,
  isStreamRestart,
  type ClaudeBetaStreamEvent,
  type ClaudeRxEvent,
  type ClaudeStreamEvent,
  type RunToolsMarker,
} from '../lib/index.js';
import { describeFailure, type ClaudeFailureType } from './describe-failure.js';

/**
 * Names an event for `ToSseOptions.events`: a stream event type (`message_start`, `content_block_delta`, ...), or a
 * delta type (`text_delta`, `thinking_delta`, ...) to keep only the `content_block_delta` events carrying it.
 */
export type SseEventSelector =
  | Anthropic.Messages.RawMessageStreamEvent['type']
  | Anthropic.Beta.Messages.BetaRawContentBlockDelta['type']
  | RunToolsMarker['type'];

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

/**
 * What `ToSseOptions.events` is asked about: a stream event (of the beta API too) or a runTools marker.
 *
 * @example
 * ```ts
 * import { toSse, type SseFilteredEvent } from 'claude-rx/nest';
 *
 * const textAndTools = (event: SseFilteredEvent) => event.type === 'tool_result' || event.type === 'content_block_delta';
 * toSse({ events: textAndTools });
 * ```
 */
export type SseFilteredEvent = ClaudeStreamEvent | ClaudeBetaStreamEvent | RunToolsMarker;

/** Options of `toSse` (and the `sse` options of `ClaudeStreamModule` and `ClaudeStreamService.sse()`). */
export interface ToSseOptions {
  /**
   * Milliseconds of silence after which a comment (`: heartbeat`) is written, again every `heartbeatMs` while
   * nothing else is, so that proxies and load balancers keep an idle connection open. `false` turns it off.
   * @defaultValue 15000
   */
  readonly heartbeatMs?: number | false;
  /**
   * Which stream events go out: a list of event or delta types (`['text_delta', 'thinking_delta']` sends only the
   * text and thinking deltas), or a predicate. `stream_restart`, `error` and `done` always go out.
   * @defaultValue every event
   */
  readonly events?: readonly SseEventSelector[] | ((event: SseFilteredEvent) => boolean);
}

/**
 * The `data` of the `error` event `toSse` writes: what a client may know, nothing of the upstream's message, headers
 * or stack.
 */
export interface SseErrorData {
  /** The kind of failure. */
  readonly type: ClaudeFailureType;
  /** A fixed, human-readable message for that kind. */
  readonly message: string;
  /** Whether sending the same request again later may succeed. */
  readonly retryable: boolean;
}

/** The `data` of the `stream_restart` event: the stream starts over, drop what was shown since `message_start`. */
export interface SseRestartData {
  readonly type: 'stream_restart';
  /** The retry attempt that follows (1 for the first retry). */
  readonly attempt: number;
  /** How long the retry waited, in milliseconds. */
  readonly delayMs: number;
}

const DEFAULT_HEARTBEAT_MS = 15_000;
const HEARTBEAT: MessageEvent = { comment: 'heartbeat' };
const DONE_DATA = '{}';

const MARKER_TYPES: ReadonlySet<string> = new Set<RunToolsMarker['type']>(['turn_start', 'turn_end', 'tool_result']);

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

function keepFor(events: ToSseOptions['events']): (event: SseFilteredEvent) => boolean {
  if (events === undefined) return () => true;
  if (typeof events === 'function') return events;
  if (!Array.isArray(events)) {
    throw new TypeError('toSse: events must be a list of event or delta types, or a predicate');
  }
  const names = new Set<string>();
  for (const name of events as readonly unknown[]) {
    if (typeof name !== 'string' || (!EVENT_TYPES.has(name) && !DELTA_TYPES.has(name) && !MARKER_TYPES.has(name))) {
      throw new TypeError(
        `toSse: events has ${JSON.stringify(name)}, which is neither a stream event type (${[...EVENT_TYPES].join(', ')}) ` +
          `nor a delta type (${[...DELTA_TYPES].join(', ')}) nor a runTools marker (${[...MARKER_TYPES].join(', ')})`,
      );
    }
    names.add(name);
  }
  return (event) => names.has(event.type) || (event.type === 'content_block_delta' && names.has(event.delta.type));
}

function checkHeartbeat(heartbeatMs: unknown): number | false {
  if (heartbeatMs === undefined) return DEFAULT_HEARTBEAT_MS;
  if (heartbeatMs === false) return false;
  if (typeof heartbeatMs !== 'number' || !Number.isFinite(heartbeatMs) || heartbeatMs <= 0) {
    throw new TypeError(
      `toSse: heartbeatMs must be a positive number of milliseconds or false, got ${JSON.stringify(heartbeatMs) ?? typeof heartbeatMs}`,
    );
  }
  return heartbeatMs;
}

/**
 * Turns Claude stream events into Nest `MessageEvent`s for an `@Sse()` route.
 *
 * Each kept event goes out with the stream's event type as its SSE event name (`type`), the event as JSON as its
 * `data` (a string: newlines in the model's text are escaped, so the text cannot forge SSE frames) and an `id`
 * that increases from 1 within the stream. A `stream_restart` marker (from `retryOnRateLimit`) goes out as a
 * `stream_restart` event, without its error.
 *
 * - next: one `MessageEvent` per kept event; a `: heartbeat` comment after every `heartbeatMs` without a write;
 * - complete: a final `done` event (data `{}`), then complete;
 * - error: one `error` event whose data is `{ type, message, retryable }` (`SseErrorData`: a fixed message per kind
 *   of failure, nothing of the upstream's message, headers or stack), then complete;
 * - unsubscribe (the client went away): unsubscribes the source, which aborts the upstream request, and stops the
 *   heartbeat.
 *
 * A `TypeError` is thrown at once for bad options. To answer a failure before the first event with an HTTP status
 * rather than a 200 and an `error` event, use `ClaudeStreamService.sse()`.
 *
 * @param options `heartbeatMs` and `events`.
 * @returns An operator from stream events to `MessageEvent`s.
 *
 * @example
 * ```ts
 * import { Controller, Query, Sse, type MessageEvent } from '@nestjs/common';
 * import type { Observable } from 'rxjs';
 * import { ClaudeStreamService, toSse } from 'claude-rx/nest';
 *
 * @Controller('chat')
 * class ChatController {
 *   constructor(private readonly claude: ClaudeStreamService) {}
 *
 *   @Sse('text')
 *   text(@Query('q') q: string): Observable<MessageEvent> {
 *     return this.claude
 *       .stream({ messages: [{ role: 'user', content: q }] })
 *       .pipe(toSse({ events: ['text_delta'], heartbeatMs: 10_000 }));
 *   }
 * }
 * ```
 */
export function toSse(options: ToSseOptions = {}): OperatorFunction<ClaudeRxEvent, MessageEvent> {
  if (options === null || typeof options !== 'object') throw new TypeError('toSse: options must be an object');
  const heartbeatMs = checkHeartbeat(options.heartbeatMs);
  const keep = keepFor(options.events);

  return (source) =>
    new Observable<MessageEvent>((subscriber) => {
      const scheduler = asyncScheduler;
      let nextId = 1;
      let lastWriteAt = scheduler.now();
      let heartbeat: Subscription | undefined;

      const write = (type: string, data: string) => {
        lastWriteAt = scheduler.now();
        subscriber.next({ type, id: String(nextId++), data });
      };

      // One timer per silence, not per event: when it fires, it sleeps again for what is left of the interval if
      // something was written meanwhile. It re-arms itself through its own action (`this.schedule`), which is a
      // no-op once the teardown has unsubscribed it, so a subscriber that leaves on a heartbeat leaves no timer.
      if (heartbeatMs !== false) {
        heartbeat = scheduler.schedule(function () {
          const idle = scheduler.now() - lastWriteAt;
          if (idle < heartbeatMs) {
            this.schedule(undefined, heartbeatMs - idle);
            return;
          }
          lastWriteAt = scheduler.now();
          subscriber.next(HEARTBEAT);
          this.schedule(undefined, heartbeatMs);
        }, heartbeatMs);
      }

      const end = () => {
        heartbeat?.unsubscribe();
        heartbeat = undefined;
      };

      const fail = (error: unknown) => {
        end();
        const { type, message, retryable } = describeFailure(error);
        const data: SseErrorData = { type, message, retryable };
        write('error', JSON.stringify(data));
        subscriber.complete();
      };

      const subscription = source.subscribe({
        next(event) {
          if (isStreamRestart(event)) {
            const data: SseRestartData = { type: 'stream_restart', attempt: event.attempt, delayMs: event.delayMs };
            write('stream_restart', JSON.stringify(data));
            return;
          }
          let kept: boolean;
          try {
            kept = keep(event);
          } catch (error) {
            // Completing the subscriber runs the teardown below, which unsubscribes the source.
            fail(error);
            return;
          }
          if (kept) write(event.type, JSON.stringify(isRunToolsMarker(event) ? markerData(event) : event));
        },
        error: fail,
        complete() {
          end();
          write('done', DONE_DATA);
          subscriber.complete();
        },
      });
      return () => {
        end();
        subscription.unsubscribe();
      };
    });
}
