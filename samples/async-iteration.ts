/**
 * Async iteration: consume a claude-rx stream with `for await`, or with `await obs.forEach(...)`.
 *
 * The RxJS form of the Python SDK's `async for text in stream.text_stream`. RxJS 7 Observables are not async
 * iterable, so `eachValueOf` below adapts one: it subscribes when the loop starts, buffers what arrives before the
 * loop asks for it, and unsubscribes (which aborts the request) as soon as the loop ends, by `break`, `return` or
 * `throw`. `forEach` needs no adapter: its Promise resolves when the stream completes and rejects on its error, but
 * it cannot be cancelled.
 *
 * Run: `node dist/samples/async-iteration.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake server).
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { Observable } from 'rxjs';
import { claudeStream, textOnly } from 'claude-rx';
import { streamReply, textMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

/** The values of an Observable as an async iterable; leaving the loop unsubscribes. */
export async function* eachValueOf<T>(source: Observable<T>): AsyncGenerator<T, void, undefined> {
  const buffered: T[] = [];
  let ended: { error: unknown } | 'complete' | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const subscription = source.subscribe({
    next: (value) => {
      buffered.push(value);
      notify();
    },
    error: (error: unknown) => {
      ended = { error };
      notify();
    },
    complete: () => {
      ended = 'complete';
      notify();
    },
  });
  try {
    for (;;) {
      if (buffered.length > 0) yield buffered.shift()!;
      else if (ended === 'complete') return;
      else if (ended) throw ended.error;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    // Runs on completion, on error, and when the loop exits early (the generator's return()).
    subscription.unsubscribe();
  }
}

export async function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const ask = (content: string) =>
    claudeStream(client, { model: MODEL, max_tokens: 1024, messages: [{ role: 'user', content }] }).pipe(textOnly());

  write('for await, up to the first line break:\n');
  for await (const text of eachValueOf(ask('Name three rivers, one per line, and nothing else.'))) {
    const lineEnd = text.indexOf('\n');
    write(lineEnd === -1 ? text : text.slice(0, lineEnd + 1));
    if (lineEnd !== -1) break; // unsubscribes, which aborts the request
  }

  write('\nforEach, the whole answer:\n');
  await ask('Name three mountains, one per line, and nothing else.').forEach(write);
  write('\n');
}

/** What the fake server answers when no API key is set. */
export function demo(server: FakeClaudeServer): void {
  server.enqueue(
    streamReply(textMessage('Nile\nAmazon\nYangtze', { chunkSize: 3 }), { delayMs: 60 }),
    streamReply(textMessage('Everest\nAconcagua\nDenali', { chunkSize: 3 }), { delayMs: 60 }),
  );
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
