/** The callbacks waiting on one signal, and the one listener that calls them. */
interface Fanout {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

/** Keyed weakly: a signal nobody holds any more takes its entry with it. */
const fanouts = new WeakMap<AbortSignal, Fanout>();

/**
 * Calls `callback` once when `signal` aborts, through one `abort` listener per signal however many streams wait on
 * it. Why: a caller's signal is often shared (a server's shutdown signal given to every call), and one listener per
 * live stream trips Node's `MaxListenersExceededWarning` ("possible memory leak") from eleven streams on.
 *
 * The callback is not called for a signal already aborted: the caller checks `signal.aborted` first.
 *
 * @returns A function that removes the callback (and the listener with the last one); safe to call twice.
 *
 * @example
 * ```ts
 * const unlink = onAbort(callerSignal, () => controller.abort(callerSignal.reason));
 * return () => unlink(); // in the teardown
 * ```
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let fanout = fanouts.get(signal);
  if (!fanout) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      fanouts.delete(signal);
      // A copy: a callback may unlink others (a teardown it runs) while they are being called.
      for (const waiting of [...callbacks]) if (callbacks.has(waiting)) waiting();
      callbacks.clear();
    };
    fanout = { callbacks, listener };
    fanouts.set(signal, fanout);
    signal.addEventListener('abort', listener, { once: true });
  }
  // A wrapper per link, so that the same function linked twice is two links.
  const link = () => callback();
  const linked = fanout;
  linked.callbacks.add(link);
  return () => {
    if (!linked.callbacks.delete(link)) return;
    if (linked.callbacks.size === 0 && fanouts.get(signal) === linked) {
      fanouts.delete(signal);
      signal.removeEventListener('abort', linked.listener);
    }
  };
}
