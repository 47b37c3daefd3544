import { IncrementalJsonParser } from '../../lib/internal/incremental-json.js';

/** The parsers a method was called on, one entry per call, until `restore()`. */
export interface ParserCalls {
  readonly calls: readonly IncrementalJsonParser[];
  restore(): void;
}

/**
 * Wraps `IncrementalJsonParser.prototype[method]` to record every call, so that a test can count how often the JSON of
 * a tool input is fed or copied; call `restore()` in a `finally`.
 *
 * @example
 * ```ts
 * const pushed = recordParserCalls('push');
 * try {
 *   await lastValueFrom(source.pipe(toolInputs()));
 * } finally {
 *   pushed.restore();
 * }
 * expect(new Set(pushed.calls).size).toBe(1);
 * ```
 */
export function recordParserCalls(method: 'push' | 'snapshot'): ParserCalls {
  const prototype = IncrementalJsonParser.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = prototype[method]!;
  const calls: IncrementalJsonParser[] = [];
  prototype[method] = function (this: IncrementalJsonParser, ...args: unknown[]) {
    calls.push(this);
    return original.apply(this, args);
  };
  return { calls, restore: () => void (prototype[method] = original) };
}
