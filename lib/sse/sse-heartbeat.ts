import { asyncScheduler, Observable, type OperatorFunction, type Subscription } from 'rxjs';
import type { SseComment } from './sse-frame.js';

/** The comment written after a silence. */
const HEARTBEAT: SseComment = { comment: 'heartbeat' };

/** Checks a heartbeat interval: a positive number of milliseconds, or `false` for none. */
function checkHeartbeatMs(heartbeatMs: unknown, caller: string): number | false {
  if (heartbeatMs === false) return false;
  if (typeof heartbeatMs !== 'number' || !Number.isFinite(heartbeatMs) || heartbeatMs <= 0) {
    throw new TypeError(
      `${caller}: heartbeatMs must be a positive number of milliseconds or false, got ${JSON.stringify(heartbeatMs) ?? typeof heartbeatMs}`,
    );
  }
  return heartbeatMs;
}

/**
 * Passes every value through and adds an SSE comment (`: heartbeat`) after every `heartbeatMs` without one, so that
 * proxies and load balancers keep an idle connection open. The timer stops with the stream.
 *
 * @param heartbeatMs Milliseconds of silence before a heartbeat (`false`: none).
 * @returns An operator adding `SseComment`s.
 * @throws TypeError at once when `heartbeatMs` is neither a positive number nor `false`.
 *
 * @example
 * ```ts
 * import { sseHeartbeat, toSseFrames } from 'claude-rx';
 *
 * events$.pipe(toSseFrames(), sseHeartbeat(15_000));
 * ```
 */
export function sseHeartbeat<T>(heartbeatMs: number | false): OperatorFunction<T, T | SseComment> {
  const interval = checkHeartbeatMs(heartbeatMs, 'sseHeartbeat');
  if (interval === false) return (source) => source;
  return (source) =>
    new Observable<T | SseComment>((subscriber) => {
      const scheduler = asyncScheduler;
      let lastWriteAt = scheduler.now();
      // One timer per silence, not per value: when it fires, it sleeps again for what is left of the interval if
      // something was written meanwhile. It re-arms itself through its own action (`this.schedule`), which is a
      // no-op once the teardown has unsubscribed it, so a subscriber that leaves on a heartbeat leaves no timer.
      const heartbeat: Subscription = scheduler.schedule(function () {
        const idle = scheduler.now() - lastWriteAt;
        if (idle < interval) {
          this.schedule(undefined, interval - idle);
          return;
        }
        lastWriteAt = scheduler.now();
        subscriber.next(HEARTBEAT);
        this.schedule(undefined, interval);
      }, interval);
      const subscription = source.subscribe({
        next(value) {
          lastWriteAt = scheduler.now();
          subscriber.next(value);
        },
        error(error: unknown) {
          heartbeat.unsubscribe();
          subscriber.error(error);
        },
        complete() {
          heartbeat.unsubscribe();
          subscriber.complete();
        },
      });
      return () => {
        heartbeat.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
