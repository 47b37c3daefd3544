import { asyncScheduler, isObservable, Observable, type MonoTypeOperatorFunction, type Subscription } from 'rxjs';
import { ChunkTimeoutError, type ChunkTimeoutBound } from '../errors.js';
import { show } from '../internal/show.js';
import { MAX_TIMER_MS } from '../internal/timer-limits.js';

/** The bounds of `timeoutBetweenChunks`, in milliseconds. Leave one out to not bound it. */
export interface TimeoutBetweenChunksOptions {
  /** The longest wait for the first event (time to first token, headers included). @defaultValue `each` */
  readonly first?: number;
  /** The longest gap between two events. @defaultValue none */
  readonly each?: number;
  /** The longest the whole stream may take; never reset. @defaultValue none */
  readonly total?: number;
  /**
   * New attempts of the same request before its first event (the SDK retrying before the first byte, inside one
   * subscription): each value is the wait, in milliseconds, before the attempt starts; the `first` bound starts again
   * after it, so that a retry's wait and earlier attempts do not count against it. Ignored after the first event.
   * `ClaudeStreamService` feeds it from its retry budget.
   * @defaultValue none
   */
  readonly retryWaits?: Observable<number>;
}

/**
 * The former name of `TimeoutBetweenChunksOptions`.
 *
 * @deprecated Use `TimeoutBetweenChunksOptions`: every options type of claude-rx is named `*Options`.
 *
 * @example
 * ```ts
 * import type { TimeoutBetweenChunksOptions } from 'claude-rx'; // instead of TimeoutBetweenChunksConfig
 * ```
 */
export type TimeoutBetweenChunksConfig = TimeoutBetweenChunksOptions;

function checkLimit(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !(value > 0 && value <= MAX_TIMER_MS))) {
    throw new TypeError(
      `timeoutBetweenChunks: ${name} must be a positive number of milliseconds up to ${MAX_TIMER_MS}, got ${show(value)}`,
    );
  }
}

/**
 * Fails a stream that stalls: no first event in time, too long a gap between events, or too long in total.
 *
 * The SDK's own `timeout` bounds only the wait for the response headers; a stream that stalls after them would
 * hang forever without this.
 *
 * - next: the source's events, untouched;
 * - error: `ChunkTimeoutError` whose `info` says which bound fired (`first`, `each`, `total`), its limit and how
 *   many events had arrived; the source is unsubscribed first, which aborts the upstream HTTP request;
 * - complete: the source's; unsubscribe: unsubscribes the source and cancels the timers.
 *
 * A number is the shorthand for `{ each: ms }`, which also bounds the first event. Timers run on RxJS's
 * `asyncScheduler`, so `TestScheduler` drives them in virtual time. A steady stream costs no timer per event: the
 * gap timer is re-armed only when it fires early.
 *
 * @param limits A gap in milliseconds, or `{ first, each, total }`.
 * @returns An operator that errors with `ChunkTimeoutError` when a bound is exceeded.
 *
 * @example
 * ```ts
 * import { claudeStream, timeoutBetweenChunks, ChunkTimeoutError } from 'claude-rx';
 *
 * claudeStream(client, params)
 *   .pipe(timeoutBetweenChunks({ first: 30_000, each: 10_000, total: 300_000 }))
 *   .subscribe({
 *     error: (err) => {
 *       if (err instanceof ChunkTimeoutError) console.warn(`stalled (${err.info.bound})`);
 *     },
 *   });
 * ```
 */
export function timeoutBetweenChunks<T>(limits: number | TimeoutBetweenChunksOptions): MonoTypeOperatorFunction<T> {
  const config: TimeoutBetweenChunksOptions = typeof limits === 'number' ? { each: limits } : limits;
  if (typeof limits === 'number') checkLimit('the limit', limits);
  else if (limits === null || typeof limits !== 'object') {
    throw new TypeError('timeoutBetweenChunks: expected a number of milliseconds or { first, each, total }');
  }
  checkLimit('first', config.first);
  checkLimit('each', config.each);
  checkLimit('total', config.total);
  const first = config.first ?? config.each;
  const { each, total, retryWaits } = config;
  if (retryWaits !== undefined && !isObservable(retryWaits)) {
    throw new TypeError('timeoutBetweenChunks: retryWaits must be an Observable of milliseconds');
  }
  if (first === undefined && each === undefined && total === undefined) {
    throw new TypeError('timeoutBetweenChunks: give at least one of first, each or total');
  }

  return (source) =>
    new Observable<T>((subscriber) => {
      const scheduler = asyncScheduler;
      let eventsSeen = 0;
      let lastEventAt = scheduler.now();
      let gapTimer: Subscription | undefined;
      let totalTimer: Subscription | undefined;

      const fire = (bound: ChunkTimeoutBound, limitMs: number) => {
        // Unsubscribing the source first is what aborts the upstream request.
        sourceSubscription?.unsubscribe();
        gapTimer?.unsubscribe();
        totalTimer?.unsubscribe();
        subscriber.error(new ChunkTimeoutError({ bound, limitMs, eventsSeen }));
      };

      // One timer per gap, not per event: when it fires, it checks the time since the last event and, if an
      // event came meanwhile, sleeps only the rest of the gap.
      const armGap = (delay: number) => {
        gapTimer = scheduler.schedule(() => {
          if (eventsSeen === 0) {
            fire('first', first!);
            return;
          }
          const idle = scheduler.now() - lastEventAt;
          if (idle >= each!) fire('each', each!);
          else armGap(each! - idle);
        }, delay);
      };

      if (first !== undefined) armGap(first);
      if (total !== undefined) totalTimer = scheduler.schedule(() => fire('total', total), total);
      // Owned by the teardown: a retry's wait restarts `first`, as long as no event has come.
      const waits =
        first === undefined
          ? undefined
          : retryWaits?.subscribe((waitMs) => {
              if (eventsSeen > 0 || subscriber.closed) return;
              gapTimer?.unsubscribe();
              armGap(Math.min(MAX_TIMER_MS, Math.max(0, waitMs) + first));
            });

      let sourceSubscription: Subscription | undefined = undefined;
      sourceSubscription = source.subscribe({
        next(value) {
          eventsSeen += 1;
          lastEventAt = scheduler.now();
          if (eventsSeen === 1) {
            gapTimer?.unsubscribe();
            gapTimer = undefined;
            if (each !== undefined) armGap(each);
          }
          subscriber.next(value);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        sourceSubscription?.unsubscribe();
        gapTimer?.unsubscribe();
        totalTimer?.unsubscribe();
        waits?.unsubscribe();
      };
    });
}
