/** Makes a plain, unfrozen, shallow copy of an object of one shape. */
export type ShapeCopier = (source: Readonly<Record<string, unknown>>) => Record<string, unknown>;

/**
 * Copies written as object literals for the shapes the API streams most (the message; text, thinking and tool use
 * blocks), keyed by their keys in order.
 *
 * Why not `{ ...source }`: `accumulateMessage` freezes a copy of the changed block and of the message on every event,
 * and in V8 (Node 20) an object made by spread has a map outside the transition tree, so `Object.freeze` cannot reuse
 * a cached frozen map: it builds a new one every time (about 0.3 to 0.6 µs, over 1 µs per event in all, a fifth of
 * what the SDK spends on the event itself). A literal's map is in the tree: freezing it costs tens of nanoseconds.
 */
const LITERAL_COPIERS = new Map<string, ShapeCopier>([
  ['type,text', (s) => ({ type: s.type, text: s.text })],
  ['type,text,citations', (s) => ({ type: s.type, text: s.text, citations: s.citations })],
  ['type,thinking', (s) => ({ type: s.type, thinking: s.thinking })],
  ['type,thinking,signature', (s) => ({ type: s.type, thinking: s.thinking, signature: s.signature })],
  ['type,id,name,input', (s) => ({ type: s.type, id: s.id, name: s.name, input: s.input })],
  [
    'id,type,role,model,content,stop_reason,stop_sequence,usage',
    (s) => ({
      id: s.id,
      type: s.type,
      role: s.role,
      model: s.model,
      content: s.content,
      stop_reason: s.stop_reason,
      stop_sequence: s.stop_sequence,
      usage: s.usage,
    }),
  ],
  [
    'id,type,role,model,content,stop_reason,stop_sequence,container,usage',
    (s) => ({
      id: s.id,
      type: s.type,
      role: s.role,
      model: s.model,
      content: s.content,
      stop_reason: s.stop_reason,
      stop_sequence: s.stop_sequence,
      container: s.container,
      usage: s.usage,
    }),
  ],
]);

/** Any other shape (new fields the API adds, rarer blocks): correct, only slower to freeze. */
const spreadCopy: ShapeCopier = (source) => ({ ...source });

/**
 * The cheapest way to copy objects shaped like `source` now: a literal for the usual shapes, else a spread. Pick it
 * again whenever the object gains a key; the copy always has exactly `source`'s own keys, in the same order.
 *
 * @example
 * ```ts
 * const copy = copierFor(block);
 * const snapshot = Object.freeze(copy(block));
 * ```
 */
export function copierFor(source: object): ShapeCopier {
  return LITERAL_COPIERS.get(Object.keys(source).join(',')) ?? spreadCopy;
}
