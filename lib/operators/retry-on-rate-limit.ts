import {
  asyncScheduler,
  Observable,
  type MonoTypeOperatorFunction,
  type OperatorFunction,
  type Subscription,
} from 'rxjs';
import { isRateLimitOrOverload, retryAfterMs } from '../rate-limit.js';
import type { ClaudeRxEvent, StreamRestartEvent } from '../types.js';
import { show } from '../internal/show.js';
import { MAX_TIMER_MS } from '../internal/timer-limits.js';

/** What `onRetry` is told before each retry. */
export interface RetryInfo {
  /** 1 for the first retry. */
  readonly attempt: number;
  /** How long the retry waits before re-subscribing, in milliseconds. */
  readonly delayMs: number;
  /** The error that caused the retry. */
  readonly error: unknown;
}

/** Options of `retryOnRateLimit`. */
export interface RetryOnRateLimitOptions {
  /** Retries after the first attempt; then the last error is rethrown. @defaultValue 3 */
  readonly maxRetries?: number;
  /** The first backoff step when the server gives no `retry-after`, doubled per attempt. @defaultValue 1000 */
  readonly baseDelayMs?: number;
  /**
   * The cap of the backoff, and the longest wait the server may ask for: a `retry-after` beyond it gives up at
   * once (rethrowing) rather than hold a request open that long. At most 2147483647 (what one timer can wait).
   * @defaultValue 60000
   */
  readonly maxDelayMs?: number;
  /** `full`: a random wait between 0 and the backoff step (AWS's "full jitter"); `none`: exactly the step. @defaultValue 'full' */
  readonly jitter?: 'full' | 'none';
  /**
   * Which errors to retry, given the error and the retry that would follow (1 for the first). The default retries
   * HTTP 429 and 529 and mid-stream `rate_limit_error` and `overloaded_error` only: never other 4xx, aborts or
   * timeouts. Pass a predicate to widen or narrow that; `maxRetries`, `maxDelayMs` and `restartAfterContent` still
   * apply. An exception thrown here ends the stream with that exception.
   * @defaultValue rate limits and overloads
   */
  readonly retryOn?: (error: unknown, attempt: number) => boolean;
  /**
   * After content has been emitted downstream, a retry would deliver it twice. By default such a failure is
   * rethrown. With `true`, the stream restarts: a `StreamRestartEvent` marker is emitted first, which
   * `accumulateMessage`, `finalMessage`, `tokenUsage` and the SSE helpers understand (they drop what came before).
   * @defaultValue false
   */
  readonly restartAfterContent?: boolean;
  /** Called before each retry. An exception thrown here ends the stream with that exception. @defaultValue none */
  readonly onRetry?: (info: RetryInfo) => void;
}

/**
 * The former name of `RetryOnRateLimitOptions`.
 *
 * @deprecated Use `RetryOnRateLimitOptions`: every options type of claude-rx is named `*Options`.
 *
 * @example
 * ```ts
 * import type { RetryOnRateLimitOptions } from 'claude-rx'; // instead of RetryOnRateLimitConfig
 * ```
 */
export type RetryOnRateLimitConfig = RetryOnRateLimitOptions;

/** A switch, not a Set: asked of every delta, whose `type` comes fresh from JSON.parse and would be hashed each time. */
function isContentDelta(type: string): boolean {
  switch (type) {
    case 'text_delta':
    case 'thinking_delta':
    case 'input_json_delta':
    case 'citations_delta':
    case 'signature_delta':
      return true;
    default:
      return false;
  }
}

function isContent(event: ClaudeRxEvent): boolean {
  return (
    (event.type === 'content_block_delta' && isContentDelta(event.delta.type)) ||
    event.type === 'message_delta' ||
    event.type === 'message_stop'
  );
}

function checkNumber(name: string, value: unknown, { integer = false, max = Infinity } = {}): void {
  if (
    value !== undefined &&
    (typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < 0 ||
      value > max ||
      (integer && !Number.isInteger(value)))
  ) {
    const what = integer ? 'a non-negative integer' : `a number from 0 to ${max}`;
    throw new TypeError(`retryOnRateLimit: ${name} must be ${what}, got ${show(value)}`);
  }
}

/**
 * Retries a stream the API rate-limited or found overloaded, with a fresh request each time.
 *
 * Retried: HTTP 429, HTTP 529, and a mid-stream `rate_limit_error` or `overloaded_error` (unless `retryOn` says
 * otherwise). The wait is what the server asked (`retry-after-ms`, else `retry-after` in seconds or as an HTTP
 * date), else a capped exponential backoff with full jitter. It gives up, rethrowing the last error, after
 * `maxRetries` retries or when the server asks for longer than `maxDelayMs`.
 *
 * Nothing is delivered twice. Until the first content delta, the events of an attempt (`message_start`,
 * `content_block_start`) are held back, so a failure there is retried transparently: downstream sees one clean
 * stream. After content, the error is rethrown, or with `restartAfterContent` a `StreamRestartEvent` is emitted and
 * the stream starts again. When it gives up, what it held back is delivered before the error, as without it.
 *
 * The SDK retries too, by itself and before the response headers only (its `maxRetries`, 2 by default): on 408,
 * 409, 429, 5xx and connection errors, waiting what `retry-after-ms` / `retry-after` say however long that is, else
 * its own backoff of up to 8 s. Only when its retries are used up does the error reach this operator, which then
 * waits and sends a fresh request that the SDK may retry again: up to (SDK `maxRetries` + 1) × (`maxRetries` + 1)
 * requests, with `onRetry` told of this operator's retries only and `maxDelayMs` not bounding the SDK's waits.
 * Mid-stream errors are never retried by the SDK. Create the client (or the request options) with `maxRetries: 0` to
 * leave rate limits to this operator, or keep the SDK's for connection errors and lower `maxRetries` here.
 * (`ClaudeStreamService` of `claude-rx/nest` shares one budget between the two: at most `1 + maxRetries` in all.)
 *
 * - next: the source's events (held back until the first content, as said), and with `restartAfterContent` the
 *   `StreamRestartEvent` markers;
 * - error: the last error, when it is not retried; what `retryOn` or `onRetry` threw; a `TypeError` at creation
 *   for bad options;
 * - complete: the source's; unsubscribe: unsubscribes the current attempt (aborting its request) or cancels the wait.
 *
 * @param config See `RetryOnRateLimitOptions`.
 * @returns An operator that re-subscribes to the source on rate limits and overloads.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { claudeStream, retryOnRateLimit, textOnly } from 'claude-rx';
 *
 * const client = new Anthropic({ maxRetries: 0 });
 * claudeStream(client, params)
 *   .pipe(
 *     retryOnRateLimit({ maxRetries: 4, onRetry: ({ attempt, delayMs }) => console.warn(`retry ${attempt} in ${delayMs} ms`) }),
 *     textOnly(),
 *   )
 *   .subscribe((text) => process.stdout.write(text));
 * ```
 */
// Without `restartAfterContent` no marker is emitted: the output has the source's type. With it, or when that is
// only known at run time, markers may come.
export function retryOnRateLimit<T extends ClaudeRxEvent>(
  config?: RetryOnRateLimitOptions & { readonly restartAfterContent?: false },
): MonoTypeOperatorFunction<T>;
export function retryOnRateLimit(config: RetryOnRateLimitOptions): OperatorFunction<ClaudeRxEvent, ClaudeRxEvent>;
export function retryOnRateLimit(config: RetryOnRateLimitOptions = {}): OperatorFunction<ClaudeRxEvent, ClaudeRxEvent> {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`retryOnRateLimit: config must be an object, got ${String(config)}`);
  }
  const { maxRetries = 3, baseDelayMs = 1000, maxDelayMs = 60_000, jitter = 'full', retryOn, onRetry } = config;
  const restartAfterContent: unknown = config.restartAfterContent ?? false;
  checkNumber('maxRetries', maxRetries, { integer: true });
  checkNumber('baseDelayMs', baseDelayMs, { max: MAX_TIMER_MS });
  checkNumber('maxDelayMs', maxDelayMs, { max: MAX_TIMER_MS });
  if (jitter !== 'full' && jitter !== 'none') {
    throw new TypeError(`retryOnRateLimit: jitter must be 'full' or 'none', got ${show(jitter)}`);
  }
  if (retryOn !== undefined && typeof retryOn !== 'function') {
    throw new TypeError(`retryOnRateLimit: retryOn must be a function, got ${show(retryOn)}`);
  }
  if (onRetry !== undefined && typeof onRetry !== 'function') {
    throw new TypeError(`retryOnRateLimit: onRetry must be a function, got ${show(onRetry)}`);
  }
  if (typeof restartAfterContent !== 'boolean') {
    throw new TypeError(`retryOnRateLimit: restartAfterContent must be a boolean, got ${show(restartAfterContent)}`);
  }

  const shouldRetry = retryOn ?? ((error: unknown) => isRateLimitOrOverload(error));

  return (source: Observable<ClaudeRxEvent>) =>
    new Observable<ClaudeRxEvent>((subscriber) => {
      let attempt = 0;
      let current: Subscription | undefined;
      let wait: Subscription | undefined;

      const subscribeAttempt = () => {
        let held: ClaudeRxEvent[] | undefined = [];
        const release = () => {
          const events = held ?? [];
          held = undefined;
          for (const event of events) {
            // A consumer that leaves on one of them must not be handed the rest.
            if (subscriber.closed) return;
            subscriber.next(event);
          }
        };
        const attempt$ = source.subscribe({
          next(event) {
            if (held && !isContent(event)) {
              held.push(event);
              return;
            }
            if (held) release();
            if (!subscriber.closed) subscriber.next(event);
          },
          complete() {
            release();
            subscriber.complete();
          },
          error(error: unknown) {
            const deliveredContent = held === undefined;
            // Not retrying: what was held back is delivered, as the source would have, then the error.
            const fail = (reason: unknown) => {
              release();
              subscriber.error(reason);
            };
            let delayMs: number | undefined;
            try {
              const retry =
                attempt < maxRetries && (!deliveredContent || restartAfterContent) && shouldRetry(error, attempt + 1);
              delayMs = retry ? retryDelay(error, attempt) : undefined;
            } catch (thrown) {
              fail(thrown);
              return;
            }
            if (delayMs === undefined) {
              fail(error);
              return;
            }
            attempt += 1;
            try {
              onRetry?.({ attempt, delayMs, error });
            } catch (thrown) {
              fail(thrown);
              return;
            }
            // A consumer that left inside `onRetry` is told nothing more, and no wait is scheduled.
            if (subscriber.closed) return;
            if (deliveredContent) {
              const marker: StreamRestartEvent = { type: 'stream_restart', attempt, delayMs, error };
              subscriber.next(marker);
            }
            // The consumer may have left on the marker: its teardown has run already, so a wait scheduled now would
            // outlive it and send a paid request nobody reads.
            if (subscriber.closed) return;
            wait = asyncScheduler.schedule(() => {
              wait = undefined;
              subscribeAttempt();
            }, delayMs);
          },
        });
        current = attempt$;
        // A source that emits synchronously may have seen the consumer leave before `subscribe` returned.
        if (subscriber.closed) attempt$.unsubscribe();
      };

      // The server's wait when it gave one (undefined, i.e. give up, beyond maxDelayMs), else capped backoff.
      const retryDelay = (error: unknown, previousAttempts: number): number | undefined => {
        const asked = retryAfterMs(error, asyncScheduler.now());
        if (asked !== undefined) return asked <= maxDelayMs ? asked : undefined;
        const step = Math.min(maxDelayMs, baseDelayMs * 2 ** previousAttempts);
        return jitter === 'full' ? Math.floor(Math.random() * step) : step;
      };

      subscribeAttempt();
      return () => {
        current?.unsubscribe();
        wait?.unsubscribe();
      };
    });
}
