/**
 * A deeply frozen copy of a JSON-like value (what arrives in stream events), leaving the original untouched.
 *
 * The draft copies each nested value once, when it arrives; every snapshot after that can share it safely, so a
 * snapshot costs a shallow copy of the one block that changed instead of a walk over everything.
 */
export function deepFrozenCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) return Object.freeze(value.map((item: unknown) => deepFrozenCopy(item))) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // defineProperty keeps a `__proto__` key an own data property, as JSON.parse makes it.
    Object.defineProperty(copy, key, {
      value: deepFrozenCopy((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return Object.freeze(copy) as T;
}
