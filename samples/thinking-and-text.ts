/**
 * Thinking and text: stream extended thinking and the answer, told apart.
 *
 * The RxJS form of the Python SDK's loop over `content_block_delta` events that prints `thinking_delta`s and
 * `text_delta`s under their own headings. `connect()` shares one request between `thinkingOnly()` and `textOnly()`;
 * the merged fragments keep the stream's order, and a heading is printed whenever the kind changes.
 *
 * Run: `node dist/samples/thinking-and-text.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake
 * server). Extended thinking needs a model that supports it; `budget_tokens` must be below `max_tokens`.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { connect, map, merge } from 'rxjs';
import { claudeStream, textOnly, thinkingOnly } from 'claude-rx';
import { messageEvents, streamReply, text, thinking, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

export async function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const fragments$ = claudeStream(client, {
    model: MODEL,
    max_tokens: 4096,
    thinking: { type: 'enabled', budget_tokens: 2048 },
    messages: [{ role: 'user', content: 'Is 1001 a prime number?' }],
  }).pipe(
    connect((events$) =>
      merge(
        events$.pipe(
          thinkingOnly(),
          map((text) => ({ heading: '[Thinking]', text })),
        ),
        events$.pipe(
          textOnly(),
          map((text) => ({ heading: '[Answer]', text })),
        ),
      ),
    ),
  );

  let heading: string | undefined;
  await fragments$.forEach((fragment) => {
    if (fragment.heading !== heading) {
      write(`${heading === undefined ? '' : '\n\n'}${fragment.heading}\n`);
      heading = fragment.heading;
    }
    write(fragment.text);
  });
  write('\n');
}

/** What the fake server answers when no API key is set. */
export function demo(server: FakeClaudeServer): void {
  const thought = '1001 is odd, and its digit sum is 2, so not 3. Try 7: 7 × 143 = 1001. So it is composite.';
  const answer = 'No. 1001 = 7 × 11 × 13, so it is not prime.';
  server.enqueue(
    streamReply(messageEvents([thinking(thought, 'demo-signature'), text(answer)], { chunkSize: 4 }), { delayMs: 30 }),
  );
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
