import { Observable } from 'rxjs';
import { pumpEvents } from './internal/pump-events.js';
import type { ClaudeStreamEvent } from './types.js';

/** A source of raw stream events: any async iterable (an SDK `Stream`, a generator) or a web `ReadableStream`. */
export type StreamEventSource = AsyncIterable<ClaudeStreamEvent> | ReadableStream<ClaudeStreamEvent>;

/**
 * Turns any source of raw Messages API events into the same Observable `claudeStream` gives: recorded streams,
 * an SDK `Stream`, events relayed from another process.
 *
 * - next: every event; complete: after `message_stop` and the end of the source;
 * - error: the source's error, or `IncompleteStreamError` (with `.partial`) when it ended without `message_stop`
 *   (a failure after `message_start` that is not an API error is its `.cause`);
 * - unsubscribe: stops reading and calls the iterator's `return()` (a `ReadableStream` is cancelled).
 *
 * An async iterable can usually be read once: subscribe once, or pass a fresh source per subscription through
 * `defer(() => fromStreamEvents(makeSource()))`.
 *
 * @param source The events.
 * @returns An Observable of the events.
 *
 * @example
 * ```ts
 * import { fromStreamEvents, finalMessage } from 'claude-rx';
 *
 * async function* recorded() {
 *   for (const line of lines) yield JSON.parse(line);
 * }
 * fromStreamEvents(recorded()).pipe(finalMessage()).subscribe((message) => console.log(message.content));
 * ```
 */
export function fromStreamEvents(source: StreamEventSource): Observable<ClaudeStreamEvent> {
  return new Observable<ClaudeStreamEvent>((subscriber) => {
    const iterator = toAsyncIterator(source);
    void pumpEvents(subscriber, () => Promise.resolve({ [Symbol.asyncIterator]: () => iterator }));
    return () => {
      // A pending next() may still be waiting on the source; return() asks it to finish and release its resources.
      void iterator.return?.()?.catch(() => undefined);
    };
  });
}

function toAsyncIterator(source: StreamEventSource): AsyncIterator<ClaudeStreamEvent> {
  // Node's web ReadableStream is async iterable too; its iterator's return() cancels the stream.
  return source[Symbol.asyncIterator]();
}
