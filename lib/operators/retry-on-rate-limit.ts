import { asyncScheduler, Observable, type MonoTypeOperatorFunction, type OperatorFunction, type Subscription } from 'rxjs';
import { isRateLimitOrOverload, serverRetryDelayMs } from '../internal/rate-limit.js';
import type { ClaudeRxEvent, StreamRestartEvent } from '../types.js';

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
export interface RetryOnRateLimitConfig {
  /** Retries after the first attempt; then the last error is rethrown. @defaultValue 3 */
  readonly maxRetries?: number;
  /** The first backoff step when the server gives no `retry-after`, doubled per attempt. @defaultValue 1000 */
  readonly baseDelayMs?: number;
  /**
   * The cap of the backoff, and the longest wait the server may ask for: a `retry-after` beyond it gives up at
   * once (rethrowing) rather than hold a request open that long. @defaultValue 60000
   */
  readonly maxDelayMs?: number;
  /** `full`: a random wait between 0 and the backoff step (AWS's "full jitter"); `none`: exactly the step. @defaultValue 'full' */
  readonly jitter?: 'full' | 'none';
  /**
   * Which errors to retry. The default retries HTTP 429 and 529 and mid-stream `rate_limit_error` and
   * `overloaded_error` only: never other 4xx, aborts or timeouts. Pass a predicate to widen or narrow that.
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

const CONTENT_DELTAS = new Set(['text_delta', 'thinking_delta', 'input_json_delta', 'citations_delta', 'signature_delta']);

function isContent(event: ClaudeRxEvent): boolean {
  return (
    (event.type === 'content_block_delta' && CONTENT_DELTAS.has(event.delta.type)) ||
    event.type === 'message_delta' ||
    event.type === 'message_stop'
  );
}

function checkCount(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < min)) {
    throw new TypeError(`retryOnRateLimit: ${name} must be a finite number >= ${min}, got ${String(value)}`);
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
 * the stream starts again.
 *
 * The SDK retries too, before the first byte only (its `maxRetries`, 2 by default, with its own backoff that also
 * honours `retry-after`): the attempts multiply, (SDK retries + 1) × (these retries + 1). Create the client with
 * `maxRetries: 0` to leave rate limits to this operator, or keep the SDK's for connection errors and lower `maxRetries`
 * here.
 *
 * - next: the source's events (held back until the first content, as said);
 * - error: the last error, when it is not retried; a `TypeError` at creation for bad options;
 * - complete: the source's; unsubscribe: unsubscribes the current attempt (aborting its request) or cancels the wait.
 *
 * @param config See `RetryOnRateLimitConfig`.
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
export function retryOnRateLimit(config: RetryOnRateLimitConfig & { restartAfterContent: true }): OperatorFunction<ClaudeRxEvent, ClaudeRxEvent>;
export function retryOnRateLimit<T extends ClaudeRxEvent>(config?: RetryOnRateLimitConfig): MonoTypeOperatorFunction<T>;
export function retryOnRateLimit(config: RetryOnRateLimitConfig = {}): MonoTypeOperatorFunction<ClaudeRxEvent> {
  const { maxRetries = 3, baseDelayMs = 1000, maxDelayMs = 60_000, jitter = 'full', retryOn, onRetry } = config;
  const restartAfterContent = config.restartAfterContent ?? false;
  checkCount('maxRetries', maxRetries, 0);
  checkCount('baseDelayMs', baseDelayMs, 0);
  checkCount('maxDelayMs', maxDelayMs, 0);
  if (jitter !== 'full' && jitter !== 'none') throw new TypeError(`retryOnRateLimit: jitter must be 'full' or 'none'`);
  if (retryOn !== undefined && typeof retryOn !== 'function') throw new TypeError('retryOnRateLimit: retryOn must be a function');
  if (onRetry !== undefined && typeof onRetry !== 'function') throw new TypeError('retryOnRateLimit: onRetry must be a function');

  const shouldRetry = retryOn ?? ((error: unknown) => isRateLimitOrOverload(error));

  return (source) =>
    new Observable<ClaudeRxEvent>((subscriber) => {
      let attempt = 0;
      let current: Subscription | undefined;
      let wait: Subscription | undefined;

      const subscribeAttempt = () => {
        let held: ClaudeRxEvent[] | undefined = [];
        const release = () => {
          const events = held ?? [];
          held = undefined;
          for (const event of events) subscriber.next(event);
        };
        current = source.subscribe({
          next(event) {
            if (held && !isContent(event)) {
              held.push(event);
              return;
            }
            if (held) release();
            subscriber.next(event);
          },
          complete() {
            release();
            subscriber.complete();
          },
          error(error: unknown) {
            const deliveredContent = held === undefined;
            let retry: boolean;
            try {
              retry = attempt < maxRetries && (!deliveredContent || restartAfterContent) && shouldRetry(error, attempt + 1);
            } catch (thrown) {
              subscriber.error(thrown);
              return;
            }
            const delayMs = retry ? retryDelay(error, attempt) : undefined;
            if (delayMs === undefined) {
              subscriber.error(error);
              return;
            }
            attempt += 1;
            try {
              onRetry?.({ attempt, delayMs, error });
            } catch (thrown) {
              subscriber.error(thrown);
              return;
            }
            if (deliveredContent) {
              const marker: StreamRestartEvent = { type: 'stream_restart', attempt, delayMs, error };
              subscriber.next(marker);
            }
            wait = asyncScheduler.schedule(() => {
              wait = undefined;
              subscribeAttempt();
            }, delayMs);
          },
        });
      };

      // The server's wait when it gave one (undefined, i.e. give up, beyond maxDelayMs), else capped backoff.
      const retryDelay = (error: unknown, previousAttempts: number): number | undefined => {
        const asked = serverRetryDelayMs(error, asyncScheduler.now());
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
