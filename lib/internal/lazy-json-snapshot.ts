import { IncrementalJsonParser, type IncrementalJsonSnapshotOptions } from './incremental-json.js';

/**
 * Defines `target[key]` as an enumerable, memoized getter for the parser's best-effort value as it stands now.
 *
 * Nothing is computed unless someone reads it, which keeps following a large tool input linear. Read at once (the
 * usual case: a subscriber looking at the latest emission), it is the parser's own memoized snapshot; read later,
 * after more JSON arrived, the prefix this emission stood for is parsed again, so an old value never changes.
 *
 * @param fallback what to give while nothing is complete yet (a tool's input is always an object: `{}`).
 */
export function defineLazyJsonSnapshot(
  target: object,
  key: string,
  parser: IncrementalJsonParser,
  options: IncrementalJsonSnapshotOptions & { fallback: unknown },
): void {
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
