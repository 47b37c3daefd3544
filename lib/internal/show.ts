/**
 * A value as an option's error message may quote it: strings quoted, numbers, booleans, `null` and `undefined` as
 * they are, anything else by its kind only (an object could hold a secret, such as an API key in a client's options).
 *
 * @example
 * ```ts
 * throw new TypeError(`retryOnRateLimit: maxRetries must be a non-negative integer, got ${show(value)}`);
 * ```
 */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return `a value of type ${typeof value}`;
}
