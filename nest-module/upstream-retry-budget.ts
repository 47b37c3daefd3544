import { APIError, type Middleware } from '@anthropic-ai/sdk';
import { EMPTY, identity, Subject, type Observable, type OperatorFunction } from 'rxjs';
import {
  isRateLimitOrOverload,
  retryAfterMs,
  retryOnRateLimit,
  type ClaudeRequestOptions,
  type ClaudeRxEvent,
  type RetryOnRateLimitOptions,
} from '../lib/index.js';

// The SDK's own backoff after a connection error (its calculateDefaultRetryTimeoutMillis, before jitter).
const SDK_FIRST_BACKOFF_MS = 500;
const SDK_MAX_BACKOFF_MS = 8000;

// retryOnRateLimit's defaults, which a module `retry` config leaves out fields of.
const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_BASE_DELAY_MS = 1000;
/** retryOnRateLimit's default `maxDelayMs`. */
export const DEFAULT_MAX_DELAY_MS = 60_000;

/** What the SDK's `shouldRetry` retries, besides its one-time token refresh on 401 (which it decides alone). */
function sdkWouldRetry(response: Response): boolean {
  const told = response.headers.get('x-should-retry');
  if (told === 'true') return true;
  if (told === 'false') return false;
  const status = response.status;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** An HTTP error: the SDK's retry policy (within this budget) has already decided on it. */
function answeredWithStatus(error: unknown): boolean {
  return error instanceof APIError && typeof error.status === 'number';
}

/** How one call of `ClaudeStreamService` retries: the options of each request, and the operator over its attempts. */
export interface CallRetries {
  /** The SDK options of the next request, from the call's own. */
  requestOptions(base?: Omit<ClaudeRequestOptions, 'signal'>): Omit<ClaudeRequestOptions, 'signal'>;
  /** The operator that re-subscribes to a failed attempt, when it should. */
  retryOperator(): OperatorFunction<ClaudeRxEvent, ClaudeRxEvent>;
  /**
   * The waits before the SDK's attempts that come inside one subscription (see `timeoutBetweenChunks`'
   * `retryWaits`), so that the call's `first` timeout bounds each attempt, not the waits between them.
   */
  readonly retryWaits: Observable<number>;
}

/** `retry: false`: claude-rx adds no retry, and leaves the client's own policy (its `maxRetries`) as it is. */
const NO_RETRIES: CallRetries = {
  requestOptions: (base = {}) => ({ ...base }),
  retryOperator: () => identity,
  retryWaits: EMPTY,
};

/**
 * A factory of each call's retries for the module's (or a call's) `retry` option: a fresh `UpstreamRetryBudget` per
 * call, or none for `false`. The config is checked now, so that a bad one throws at the call, not at the first request.
 */
export function retriesFor(retry: RetryOnRateLimitOptions | false): () => CallRetries {
  if (retry === false) return () => NO_RETRIES;
  new UpstreamRetryBudget(retry);
  return () => new UpstreamRetryBudget(retry);
}

/**
 * The retries of one call of `ClaudeStreamService`, shared between the SDK and `retryOnRateLimit`, so that the call
 * sends at most `1 + maxRetries` requests in all.
 *
 * Why both: the SDK retries before the first byte with a policy that `retryOnRateLimit` should not copy and must not
 * be less robust than (`x-should-retry`, 408, 409, 5xx, a stale keep-alive socket, its token refresh on 401); only
 * `retryOnRateLimit` can retry what fails after the stream began (a mid-stream `overloaded_error`). Before, each
 * kept its own count and they multiplied (one call on a persistent 529 made 9 requests).
 *
 * How: each request goes out with the SDK's per-request `maxRetries` set to what is left, and a per-request middleware
 * (it runs per attempt, inside the SDK's retry loop) that counts what is sent and bounds the SDK's waits by
 * `maxDelayMs`: a server's `retry-after` beyond it gives up at once (as `retryOnRateLimit` does), and without one
 * the wait is `retryOnRateLimit`'s backoff (`baseDelayMs`, doubled per retry, `jitter`). `retryOnRateLimit` is then
 * left the failures that came with no HTTP status, while requests are left.
 *
 * `onRetry` is told of `retryOnRateLimit`'s retries only; the SDK logs its own (`logLevel: 'info'`).
 */
export class UpstreamRetryBudget implements CallRetries {
  private sent = 0;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  /**
   * @param config A `retryOnRateLimit` config (validated here: a bad one throws a `TypeError` naming the option).
   */
  constructor(private readonly config: RetryOnRateLimitOptions) {
    retryOnRateLimit(config);
    this.maxRetries = config.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.baseDelayMs = config.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = config.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  }

  /** The requests this call may still send. */
  private get requestsLeft(): number {
    return 1 + this.maxRetries - this.sent;
  }

  /**
   * The options of the next request: `base` with the SDK's `maxRetries` set to what is left and the budget's
   * middleware added last (innermost, nearest the network, so that it counts what is really sent).
   */
  requestOptions(base: Omit<ClaudeRequestOptions, 'signal'> = {}): Omit<ClaudeRequestOptions, 'signal'> {
    this.startSubscription();
    return {
      ...base,
      maxRetries: Math.max(0, this.requestsLeft - 1),
      middleware: [...(base.middleware ?? []), this.middleware],
    };
  }

  /** `retryOnRateLimit` with the config, retrying only what the SDK could not, while requests are left. */
  retryOperator(): OperatorFunction<ClaudeRxEvent, ClaudeRxEvent> {
    const retryOn = this.config.retryOn ?? isRateLimitOrOverload;
    return retryOnRateLimit({
      ...this.config,
      retryOn: (error, attempt) => this.requestsLeft > 0 && !answeredWithStatus(error) && retryOn(error, attempt),
    });
  }

  private readonly waits = new Subject<number>();
  readonly retryWaits: Observable<number> = this.waits.asObservable();

  private readonly middleware: Middleware = async (request, next) => {
    this.sent += 1;
    // A retry of the SDK's (after a connection error too, whose wait is the SDK's own): `first` starts again now.
    if (this.attemptInSubscription) this.waits.next(0);
    this.attemptInSubscription = true;
    let response: Response;
    try {
      response = await next(request);
    } catch (error) {
      // A connection error, which the SDK retries after a backoff of its own: at most 0.5 s doubled per retry, 8 s.
      if (this.requestsLeft > 0)
        this.waits.next(Math.min(SDK_MAX_BACKOFF_MS, SDK_FIRST_BACKOFF_MS * 2 ** (this.sent - 1)));
      throw error;
    }
    // No retry follows when none is left: the SDK's `maxRetries` for this request ran out with the budget.
    if (response.ok || !sdkWouldRetry(response) || this.requestsLeft <= 0) return response;
    return this.boundWait(response);
  };

  /** Whether a request of the current subscription has gone out: the next one is the SDK's retry. */
  private attemptInSubscription = false;

  /** A subscription (an attempt of the retry operator) begins: its first request is no retry of the SDK's. */
  private startSubscription(): void {
    this.attemptInSubscription = false;
  }

  /**
   * The response, with its headers changed so that the SDK waits no longer than `maxDelayMs` before retrying; the
   * wait is told to `retryWaits`.
   */
  private boundWait(response: Response): Response {
    const asked = retryAfterMs(response.headers);
    if (asked !== undefined && asked > 0 && asked <= this.maxDelayMs) {
      this.waits.next(asked);
      return response;
    }
    const headers = new Headers(response.headers);
    if (asked !== undefined && asked > this.maxDelayMs) {
      headers.set('x-should-retry', 'false');
    } else {
      const step = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (this.sent - 1));
      const wait = this.config.jitter === 'none' ? step : Math.floor(Math.random() * step);
      // The SDK takes a wait of 0 as none given, and would use its own backoff (up to 8 s).
      const waitMs = Math.max(1, wait);
      headers.set('retry-after-ms', String(waitMs));
      this.waits.next(waitMs);
    }
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}
