/**
 * Quick start: stream Claude's answer and print the text as it arrives.
 *
 * The RxJS form of the Python SDK's `for text in stream.text_stream: print(text, end="")`. `claudeStream` is cold:
 * subscribing sends the request, unsubscribing aborts it. `textOnly()` keeps the text of each `text_delta`.
 *
 * Run: `node dist/samples/quick-start.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake server).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { claudeStream, textOnly } from 'claude-rx';
import { streamReply, textMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

export function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  return new Promise((resolve, reject) => {
    claudeStream(client, {
      model: MODEL,
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Write a haiku about a river.' }],
    })
      .pipe(textOnly())
      .subscribe({
        next: write,
        error: reject,
        complete: () => {
          write('\n');
          resolve();
        },
      });
  });
}

/** What the fake server answers when no API key is set. */
export function demo(server: FakeClaudeServer): void {
  const haiku = 'Cold water remembers\nevery stone it has carried:\nthe sea forgets none.';
  server.enqueue(streamReply(textMessage(haiku, { chunkSize: 4 }), { delayMs: 40 }));
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
