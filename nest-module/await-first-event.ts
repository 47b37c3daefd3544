import { Observable, type OperatorFunction, type Subscriber, type Subscription } from 'rxjs';

/** Options of `awaitFirstEvent`. */
export interface AwaitFirstEventOptions<T, R> {
  /** Aborts the wait (rejecting with `signal.reason`), or releases the source until the result is subscribed. */
  readonly signal?: AbortSignal | undefined;
  /** How long the resolved Observable waits for its subscriber before the source is unsubscribed. */
  readonly subscribeTimeoutMs: number;
  /**
   * Applied to the source's values as they come, from the start: what it makes is what waits and is replayed. The
   * errors of misuse (a late or second subscription) bypass it.
   */
  readonly project: OperatorFunction<T, R>;
  /** Which values resolve the promise; those before it are only buffered. @defaultValue every value */
  readonly isAnswer?: (value: T) => boolean;
  /** Told of the source's error first, whenever it comes (before the promise rejects or the result errors). */
  readonly onError?: (error: unknown) => void;
}

/** The waits on one signal, and the one listener that calls them. */
interface Waits {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

/** Keyed weakly: a signal nobody holds any more takes its entry with it. */
const waitsBySignal = new WeakMap<AbortSignal, Waits>();

/**
 * Calls `callback` once `signal` aborts, through one `abort` listener per signal however many calls wait on it: many
 * calls may share one caller signal (a server's shutdown signal, say) without Node's MaxListenersExceededWarning. A
 * `Set` entry per wait, rather than an `AbortSignal.any([signal])` per call, whose signal, weak references and
 * finalization cells each idle stream would hold.
 *
 * @returns A function that stops waiting (and removes the listener with the last wait).
 */
function onceAborted(signal: AbortSignal, callback: () => void): () => void {
  let waits = waitsBySignal.get(signal);
  if (!waits) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      waitsBySignal.delete(signal);
      // A copy: a callback may stop other waits (a teardown it runs) while they are being called.
      for (const call of [...callbacks]) if (callbacks.delete(call)) call();
    };
    waits = { callbacks, listener };
    waitsBySignal.set(signal, waits);
    signal.addEventListener('abort', listener, { once: true });
  }
  const current = waits;
  current.callbacks.add(callback);
  return () => {
    if (!current.callbacks.delete(callback) || current.callbacks.size > 0) return;
    if (waitsBySignal.get(signal) === current) {
      waitsBySignal.delete(signal);
      signal.removeEventListener('abort', current.listener);
    }
  };
}

type Ending = { readonly error: unknown } | { readonly complete: true };

/**
 * Subscribes to `source` now and resolves once it has emitted an answer (or completed), with an Observable of what came so
 * far, replayed, then of what comes, live, through `project`; rejects with the source's error if it fails first.
 *
 * `project` is applied as the source emits, and what it makes is what waits: `toSse` frames each event while it is
 * the one being delivered, so that its data goes out as it came on the wire (an event framed later, from a buffer, is
 * serialized again). Answers and errors are told from the source's own values, before `project`, which turns errors
 * into `error` frames.
 *
 * This is what lets `sse()` answer a failure before the first event with an HTTP status: the handler's promise is
 * still pending when it fails. The source is unsubscribed (its request aborted) when `signal` aborts before the
 * result is subscribed, when nobody subscribes within `subscribeTimeoutMs` (the client left while the handler was
 * awaiting: Nest then never subscribes), and when the subscriber unsubscribes. The result can be subscribed once.
 */
export function awaitFirstEvent<T, R>(
  source: Observable<T>,
  options: AwaitFirstEventOptions<T, R>,
): Promise<Observable<R>> {
  const { signal, subscribeTimeoutMs, project, isAnswer, onError } = options;

  return new Promise<Observable<R>>((resolve, rejectWith) => {
    // The source's own error (or the signal's reason) goes through untouched, whatever it is.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    const reject = (reason: unknown) => rejectWith(reason);
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }

    const buffered: R[] = [];
    let ending: Ending | undefined;
    let consumer: Subscriber<R> | undefined;
    let claimed = false;
    let settled = false;
    let released = false;
    let upstream: Subscription | undefined = undefined;
    let unclaimedTimer: ReturnType<typeof setTimeout> | undefined;
    let unlinkAbort = () => {};

    // Drops the source and what it buffered; the result, if subscribed later, errors.
    const release = () => {
      released = true;
      buffered.length = 0;
      clearTimeout(unclaimedTimer);
      unlinkAbort();
      upstream?.unsubscribe();
    };

    function abortWait(): void {
      if (claimed) return;
      release();
      if (!settled) {
        settled = true;
        reject(signal?.reason);
      }
    }

    const replay = new Observable<R>((subscriber) => {
      consumer = subscriber;
      for (const value of buffered.splice(0)) {
        // A subscriber that leaves on one of them is handed no more (the teardown below still runs).
        if (subscriber.closed) break;
        subscriber.next(value);
      }
      if (ending) {
        if ('error' in ending) subscriber.error(ending.error);
        else subscriber.complete();
      }
      return () => {
        consumer = undefined;
        upstream?.unsubscribe();
      };
    });

    const result = new Observable<R>((subscriber) => {
      if (claimed) {
        subscriber.error(new Error('The Observable of a Claude SSE stream can be subscribed to only once'));
        return;
      }
      claimed = true;
      clearTimeout(unclaimedTimer);
      unlinkAbort();
      if (released) {
        subscriber.error(
          new Error(`The Claude SSE stream was not subscribed to within ${subscribeTimeoutMs} ms and was aborted`),
        );
        return;
      }
      return replay.subscribe(subscriber);
    });

    const resolveOnce = () => {
      if (settled) return;
      settled = true;
      resolve(result);
      unclaimedTimer = setTimeout(() => {
        if (!claimed) release();
      }, subscribeTimeoutMs);
      // A forgotten stream must not keep the process alive; the request it aborts would not either.
      unclaimedTimer.unref?.();
    };

    // The source's own values, seen before `project`: an answer resolves (its projection is kept right after, before
    // anyone can subscribe), an error before one rejects; an error after one goes on to `project`.
    const watched = new Observable<T>((subscriber) =>
      source.subscribe({
        next(value) {
          if (!settled && (!isAnswer || isAnswer(value))) resolveOnce();
          subscriber.next(value);
        },
        error(error: unknown) {
          onError?.(error);
          if (!settled) {
            settled = true;
            release();
            reject(error);
            return;
          }
          subscriber.error(error);
        },
        complete() {
          // An answer of nothing at all (no error) still resolves, once what `project` adds at the end is kept.
          subscriber.complete();
          resolveOnce();
        },
      }),
    );

    if (signal) unlinkAbort = onceAborted(signal, abortWait);
    upstream = project(watched).subscribe({
      next(value) {
        if (consumer) consumer.next(value);
        else buffered.push(value);
      },
      error(error: unknown) {
        if (consumer) consumer.error(error);
        else ending = { error };
      },
      complete() {
        if (consumer) consumer.complete();
        else ending = { complete: true };
      },
    });
    // The source may have ended synchronously, before `upstream` was assigned for release() to unsubscribe.
    if (released) upstream.unsubscribe();
  });
}
