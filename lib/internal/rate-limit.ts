import { APIError } from '@anthropic-ai/sdk';

/**
 * The API asked to slow down: HTTP 429 or 529, or a mid-stream `rate_limit_error` / `overloaded_error` frame
 * (which the SDK reports as an `APIError` with `status` undefined and `type` set). The error type alone never
 * makes another 4xx retryable.
 */
export function isRateLimitOrOverload(error: unknown): error is APIError {
  if (!(error instanceof APIError)) return false;
  if (error.status === 429 || error.status === 529) return true;
  const slowDown = error.type === 'rate_limit_error' || error.type === 'overloaded_error';
  return slowDown && (error.status === undefined || error.status >= 500);
}

/** An overload (529, `overloaded_error`) rather than a rate limit of the caller's own. */
export function isOverload(error: unknown): error is APIError {
  return error instanceof APIError && (error.status === 529 || error.type === 'overloaded_error');
}

/**
 * How long the server asked to wait, in milliseconds: `retry-after-ms`, else `retry-after` (seconds, or an HTTP
 * date); `undefined` when it did not say (or said something unreadable).
 */
export function serverRetryDelayMs(error: unknown, now: number): number | undefined {
  return error instanceof APIError ? retryDelayFromHeaders(error.headers, now) : undefined;
}

/** `serverRetryDelayMs` read from response headers (a fetch `Headers`, or a plain record of lower-case names). */
export function retryDelayFromHeaders(headers: unknown, now: number): number | undefined {
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
