/**
 * Final message: print the text as it streams, and get the complete message at the end.
 *
 * The RxJS form of the Python SDK's `text_stream` followed by `get_final_message()`. `connect()` shares one request
 * between `textOnly()`, which prints, and `finalMessage()`, which emits the whole `Message` (content, stop reason,
 * usage) once the stream has ended. When you only need the message, skip the printing:
 * `await lastValueFrom(claudeStream(client, params).pipe(finalMessage()))`.
 *
 * Run: `node dist/samples/final-message.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake server).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { connect, ignoreElements, lastValueFrom, merge, tap } from 'rxjs';
import { claudeStream, finalMessage, textOnly } from 'claude-rx';
import { streamReply, textMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

export async function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const message = await lastValueFrom(
    claudeStream(client, {
      model: MODEL,
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'In two sentences, why is the sky blue?' }],
    }).pipe(
      connect((events$) => merge(events$.pipe(textOnly(), tap(write), ignoreElements()), events$.pipe(finalMessage()))),
    ),
  );

  write('\n\n');
  write(`id: ${message.id}\n`);
  write(`stop_reason: ${message.stop_reason}\n`);
  write(`content blocks: ${message.content.map((block) => block.type).join(', ')}\n`);
  write(`usage: ${message.usage.input_tokens} input tokens, ${message.usage.output_tokens} output tokens\n`);
}

/** What the fake server answers when no API key is set. */
export function demo(server: FakeClaudeServer): void {
  const answer =
    'Sunlight scatters off the molecules of the air, and short blue wavelengths scatter far more than red ones. ' +
    'So blue light reaches your eyes from every direction of the sky.';
  server.enqueue(
    streamReply(textMessage(answer, { chunkSize: 6, usage: { input_tokens: 18, output_tokens: 41 } }), { delayMs: 25 }),
  );
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
