import { createHash } from 'node:crypto';
import type { Middleware } from '@anthropic-ai/sdk';
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { retryAfterMs } from '../rate-limit.js';
import type { StreamStore } from '../resumable/stream-store.js';
import { CallsHeldError } from './calls-held-error.js';

/** The digest of each client's credentials, kept as long as the client is. */
const digests = new WeakMap<object, { readonly credentials: string; readonly digest: string }>();

/** The statuses whose `retry-after` holds everyone's calls: rate limited (429) and overloaded (529). */
const HOLDING_STATUSES: ReadonlySet<number> = new Set([429, 529]);

/** What identifies whose limit it is: the client's credentials and where they are sent, never stored as such. */
interface ClientIdentity {
  readonly apiKey?: unknown;
  readonly authToken?: unknown;
  readonly baseURL?: unknown;
}

/**
 * One backoff for every call that shares a store: when the API answers a call with 429 or 529 and asks to wait
 * (`retry-after`), new calls with the same key and model wait until then, or fail at once with `CallsHeldError` when
 * the wait is longer than they may wait. Without it, each call finds the limit out for itself, paying a request each.
 *
 * @example
 * ```ts
 * import { claudeStream, MemoryStreamStore, SharedBackoff } from 'claude-rx';
 *
 * const backoff = new SharedBackoff(new MemoryStreamStore());
 * const key = SharedBackoff.keyFor(client, params.model);
 * const events$ = claudeStream(client, params, { middleware: [backoff.middleware(key)] }).pipe(
 *   backoff.admit(key, { maxWaitMs: 10_000 }),
 * );
 * ```
 */
export class SharedBackoff {
  constructor(private readonly store: StreamStore) {}

  /**
   * The backoff key of a client and a model: a hash of the client's API key (or token) and base URL, so that the
   * store never holds a secret, plus the model in clear.
   *
   * @example
   * ```ts
   * const key = SharedBackoff.keyFor(client, 'claude-sonnet-5-5'); // 'a1b2c3d4e5f60718:claude-sonnet-5-5'
   * ```
   */
  static keyFor(client: object, model: string): string {
    const { apiKey, authToken, baseURL } = client as ClientIdentity;
    const credentials = [apiKey, authToken, baseURL].map((part) => (typeof part === 'string' ? part : '')).join('\n');
    // A service asks for every call with the same client: its digest is kept, and made again if its credentials
    // changed.
    let known = digests.get(client);
    if (known?.credentials !== credentials) {
      known = { credentials, digest: createHash('sha256').update(credentials).digest('hex').slice(0, 16) };
      digests.set(client, known);
    }
    return `${known.digest}:${model}`;
  }

  /**
   * Holds the calls of `key` for `waitMs` from now (a longer hold already there is kept).
   *
   * @example
   * ```ts
   * await backoff.hold(key, 2_000);
   * ```
   */
  hold(key: string, waitMs: number): Promise<void> {
    return this.store.holdCalls(key, Date.now() + waitMs);
  }

  /**
   * A per-request SDK middleware that holds the calls of `key` when a response is a 429 or 529 with `retry-after`
   * (the SDK's own retries included: it runs per attempt).
   *
   * @example
   * ```ts
   * claudeStream(client, params, { middleware: [backoff.middleware(key)] });
   * ```
   */
  middleware(key: string): Middleware {
    return async (request, next) => {
      const response = await next(request);
      if (HOLDING_STATUSES.has(response.status)) {
        const waitMs = retryAfterMs(response.headers);
        // Recorded before the SDK reads the body or waits: calls that start meanwhile already see it.
        if (waitMs !== undefined && waitMs > 0) await this.hold(key, waitMs);
      }
      return response;
    };
  }

  /**
   * An operator that subscribes to the call only once the calls of `key` are no longer held: at once when they are
   * not, after the wait when it is at most `maxWaitMs`, else it fails with `CallsHeldError` and sends nothing.
   * Unsubscribing during the wait sends nothing either.
   *
   * @example
   * ```ts
   * const events$ = defer(() => claudeStream(client, params)).pipe(backoff.admit(key, { maxWaitMs: 10_000 }));
   * ```
   */
  admit<T>(key: string, options: { readonly maxWaitMs: number }): MonoTypeOperatorFunction<T> {
    const { maxWaitMs } = options;
    return (call) =>
      new Observable<T>((subscriber) => {
        const deadline = Date.now() + maxWaitMs;
        let wait: ReturnType<typeof setTimeout> | undefined;
        // Asked again after each wait: another call's 429 may have held them longer meanwhile.
        const ask = (): void => {
          let heldUntil: Promise<number | undefined>;
          try {
            heldUntil = this.store.callsHeldUntil(key);
          } catch (error) {
            // A store that throws rather than rejects: the same failure, not an exception out of a timer.
            subscriber.error(error);
            return;
          }
          heldUntil.then(
            (until) => {
              // The caller left while the store answered: nothing is sent, nothing more is scheduled.
              if (subscriber.closed) return;
              const now = Date.now();
              if (until === undefined || until <= now) {
                // The call delivers to the subscriber itself, with no layer per event; its teardown is the
                // subscriber's.
                call.subscribe(subscriber);
              } else if (until > deadline) subscriber.error(new CallsHeldError(until - now));
              else wait = setTimeout(ask, until - now);
            },
            (error: unknown) => subscriber.error(error),
          );
        };
        ask();
        return () => clearTimeout(wait);
      });
  }
}
