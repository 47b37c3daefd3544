import { IncrementalJsonParser, type IncrementalJsonSnapshotOptions } from './incremental-json.js';

/**
 * Up to how many values in the parser's open containers a snapshot is taken at once. Below it a snapshot copies at
 * most this many values (usually none: the usual tool input is a few keys and one long string, and the parser reuses
 * its copies); above it, taking one per delta would make following one huge array quadratic.
 */
const EAGER_LIMIT = 64;

/**
 * Sets `target[key]` to the parser's best-effort value as it stands now: at once when that is cheap, else as an
 * enumerable, memoized getter computed on first read.
 *
 * Why not always a getter: `Object.defineProperty` with a fresh getter costs about a microsecond per object in V8
 * (it gives every object a map of its own), more than the SDK spends on the event; the usual tool input is cheap to
 * snapshot. Why not always at once: for one huge array arriving in tiny fragments every snapshot would copy the whole
 * array. Read later, after more JSON arrived, a getter parses again the prefix its emission stood for, so an old value
 * never changes.
 *
 * @param fallback what to give while nothing is complete yet (a tool's input is always an object: `{}`).
 *
 * @example
 * ```ts
 * const block: Record<string, unknown> = { type: 'tool_use', id, name };
 * defineJsonSnapshot(block, 'input', parser, { fallback: {} });
 * Object.freeze(block);
 * ```
 */
export function defineJsonSnapshot(
  target: Record<string, unknown>,
  key: string,
  parser: IncrementalJsonParser,
  options: IncrementalJsonSnapshotOptions & { fallback: unknown },
): void {
  if (parser.openEntries <= EAGER_LIMIT) {
    target[key] = parser.snapshot(options) ?? options.fallback;
    return;
  }
  const length = parser.text.length;
  let value: unknown;
  let computed = false;
  Object.defineProperty(target, key, {
    enumerable: true,
    get() {
      if (!computed) {
        const source = parser.text.length === length ? parser : replayJson(parser.text.slice(0, length));
        value = source.snapshot(options) ?? options.fallback;
        computed = true;
      }
      return value;
    },
  });
}

/** A parser fed with `text` at once; a malformed text leaves it with what parsed before the error. */
export function replayJson(text: string): IncrementalJsonParser {
  const parser = new IncrementalJsonParser();
  try {
    parser.push(text);
  } catch {
    // The best effort is what parsed before the error.
  }
  return parser;
}
