import type { MessageEvent } from '@nestjs/common';
import { asyncScheduler, Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { sseHeartbeat, toSseFrames, type ClaudeRxEvent, type SseFramesOptions } from '../lib/index.js';

/**
 * Options of `toSse` (and the `sse` options of `ClaudeStreamModule` and `ClaudeStreamService.sse()`).
 *
 * @example
 * ```ts
 * import type { ToSseOptions } from 'claude-rx/nest';
 * const options: ToSseOptions = { events: ['text_delta'], heartbeatMs: 10_000 };
 * ```
 */
export interface ToSseOptions extends SseFramesOptions {
  /**
   * Milliseconds of silence after which a comment (`: heartbeat`) is written, again every `heartbeatMs` while
   * nothing else is, so that proxies and load balancers keep an idle connection open. `false` turns it off.
   * @defaultValue 15000
   */
  readonly heartbeatMs?: number | false;
}

/** The comment written after a silence. */
const HEARTBEAT: MessageEvent = { comment: 'heartbeat' };

/** The heartbeat interval when none is given. */
export const DEFAULT_HEARTBEAT_MS = 15_000;

/**
 * Checks `toSse`'s options and fills in the default heartbeat.
 *
 * @throws TypeError for bad options.
 */
export function checkToSseOptions(options: ToSseOptions): number | false {
  if (options === null || typeof options !== 'object') throw new TypeError('toSse: options must be an object');
  const { heartbeatMs = DEFAULT_HEARTBEAT_MS } = options;
  try {
    // Validated by the operator that runs it, and told under this one's name.
    sseHeartbeat(heartbeatMs);
  } catch (error) {
    throw new TypeError((error as Error).message.replace(/^sseHeartbeat:/, 'toSse:'), { cause: error });
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
 * - error: one `error` event whose data is `{ type, message, retryable }` (`SseErrorData`, exported by `claude-rx`: a fixed message per kind
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
  const heartbeatMs = checkToSseOptions(options);
  const frames = toSseFrames({ events: options.events }, 'toSse');
  // Ids and heartbeats in one subscriber per stream, rather than a `defer`, a `map` and `sseHeartbeat` with one each:
  // per event they only count and note the time, and every layer is objects that each open stream holds.
  return (source) =>
    new Observable<MessageEvent>((subscriber) => {
      // Per subscription: each stream's ids count from 1.
      let nextId = 1;
      const scheduler = asyncScheduler;
      let lastWriteAt = 0;
      // One timer per silence, not per event (see `sseHeartbeat`): when it fires, it sleeps again for what is left of
      // the interval if something was written meanwhile. It re-arms itself through its own action, a no-op once the
      // teardown has unsubscribed it, so that a subscriber that leaves on a heartbeat leaves no timer.
      let heartbeat: Subscription | undefined;
      if (heartbeatMs !== false) {
        lastWriteAt = scheduler.now();
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
      const subscription = frames(source).subscribe({
        next(frame) {
          if (heartbeat) lastWriteAt = scheduler.now();
          subscriber.next({ type: frame.type, id: String(nextId++), data: frame.data });
        },
        // `toSseFrames` turns an error into an `error` frame and completes: an error here is a misuse's.
        error(error: unknown) {
          heartbeat?.unsubscribe();
          subscriber.error(error);
        },
        complete() {
          heartbeat?.unsubscribe();
          subscriber.complete();
        },
      });
      return () => {
        heartbeat?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
