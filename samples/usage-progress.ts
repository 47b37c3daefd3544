/**
 * Token usage progress: show the running token counts while the answer streams, and record the last count however
 * the stream ends.
 *
 * `tokenUsage()` emits a `Usage` after `message_start` (input and cache tokens, known at once) and after each
 * `message_delta` (the output count so far; the API sends the final one just before `message_stop`). Its `onEnd`
 * runs once with the last usage, on completion, error or unsubscribe alike: the place for billing and logs.
 *
 * Run: `node dist/samples/usage-progress.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake server).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { connect, map, merge } from 'rxjs';
import { claudeStream, textOnly, tokenUsage } from 'claude-rx';
import { streamReply, textMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

const tokens = (usage: Anthropic.Usage) => `${usage.input_tokens} in, ${usage.output_tokens} out`;

export async function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const output$ = claudeStream(client, {
    model: MODEL,
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Describe a sunrise in three sentences.' }],
  }).pipe(
    connect((events$) =>
      merge(
        // First in the merge, so that it sees the stream's own end before a sibling's end unsubscribes it.
        events$.pipe(
          tokenUsage({
            onEnd: (usage, end) => write(`[final usage (${end}): ${usage ? tokens(usage) : 'none reported'}]\n`),
          }),
          map((usage, index) => `${index === 0 ? '' : '\n'}[tokens so far: ${tokens(usage)}]\n`),
        ),
        events$.pipe(textOnly()),
      ),
    ),
  );
  await output$.forEach(write);
}

/** What the fake server answers when no API key is set. */
export function demo(server: FakeClaudeServer): void {
  const answer =
    'The horizon blushes first, a thin line of rose beneath the fading stars. ' +
    'Gold spills over the hills and the mist lifts from the river. ' +
    'By the time the birds begin, the whole sky is awake.';
  server.enqueue(
    streamReply(textMessage(answer, { chunkSize: 6, usage: { input_tokens: 16, output_tokens: 44 } }), { delayMs: 25 }),
  );
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
