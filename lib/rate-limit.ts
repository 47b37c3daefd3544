import { APIError } from '@anthropic-ai/sdk';

/**
 * Tells whether the API asked to slow down: HTTP 429 or 529, or a mid-stream `rate_limit_error` /
 * `overloaded_error` frame (which the SDK reports as an `APIError` with `status` undefined and `type` set). The error
 * type alone never makes another 4xx count. This is what `retryOnRateLimit` retries by default.
 *
 * @param error Any error.
 * @returns Whether it is a rate limit or an overload.
 *
 * @example
 * ```ts
 * import { ChunkTimeoutError, isRateLimitOrOverload, retryOnRateLimit } from 'claude-rx';
 *
 * // Retry stalls too, besides what is retried by default.
 * retryOnRateLimit({ retryOn: (error) => isRateLimitOrOverload(error) || error instanceof ChunkTimeoutError });
 * ```
 */
export function isRateLimitOrOverload(error: unknown): error is APIError {
  if (!(error instanceof APIError)) return false;
  if (error.status === 429 || error.status === 529) return true;
  const slowDown = error.type === 'rate_limit_error' || error.type === 'overloaded_error';
  return slowDown && (error.status === undefined || error.status >= 500);
}

/**
 * Tells an overload of the API (529, `overloaded_error`) from a rate limit of the caller's own.
 *
 * @param error Any error.
 * @returns Whether the API was overloaded.
 *
 * @example
 * ```ts
 * import { isOverload } from 'claude-rx';
 * if (isOverload(error)) metrics.overloads.inc();
 * ```
 */
export function isOverload(error: unknown): error is APIError {
  return error instanceof APIError && (error.status === 529 || error.type === 'overloaded_error');
}

/**
 * How long the server asked to wait, in milliseconds: `retry-after-ms`, else `retry-after` (seconds, or an HTTP
 * date); `undefined` when it did not say (or said something unreadable).
 *
 * @param source The SDK's `APIError` (its response headers are read), or response headers themselves (a fetch
 *   `Headers`, or a plain record of lower-case names).
 * @param now The current time, for a `retry-after` date. @defaultValue `Date.now()`
 * @returns The wait in milliseconds, or `undefined`.
 *
 * @example
 * ```ts
 * import { retryAfterMs } from 'claude-rx';
 * const wait = retryAfterMs(error) ?? 1000;
 * ```
 */
export function retryAfterMs(source: unknown, now: number = Date.now()): number | undefined {
  const headers: unknown = source instanceof APIError ? source.headers : source;
  const ms = header(headers, 'retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = header(headers, 'retry-after');
  if (after === null || after.trim() === '') return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

// A fetch `Headers` in current SDKs; a plain record (lower-case names) in older ones.
function header(headers: unknown, name: string): string | null {
  if (typeof headers !== 'object' || headers === null) return null;
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as Headers).get(name);
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : null;
}
