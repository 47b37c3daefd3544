/**
 * Tool use with `runTools`: one Observable for the whole conversation. Every token of every turn streams, the tools
 * run as Claude calls them (both calls of a turn at once), and their results go back in the next request; no loop
 * to write. This is `tool-use-loop.ts` without the loop.
 *
 * The events are the SDK's stream events, unchanged, plus markers: `turn_start`, `turn_end` (with the complete
 * message) and `tool_result`. Testing `event.type` narrows both, fully typed.
 *
 * Run: `node dist/samples/run-tools.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake server).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { lastValueFrom, tap } from 'rxjs';
import { defineTool, finalConversation, retryOnRateLimit, runTools, timeoutBetweenChunks } from 'claude-rx';
import { messageEvents, streamReply, text, textMessage, toolUse, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

/** A local tool: a real one would call a weather service, passing `signal` on so that it can be cancelled. */
export const getWeather = defineTool<{ city: string }>({
  name: 'get_weather',
  description: 'The current weather in a city.',
  inputSchema: {
    type: 'object',
    properties: { city: { type: 'string', description: 'The city, e.g. Paris' } },
    required: ['city'],
    additionalProperties: false,
  },
  run: async ({ city }, { signal }) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    signal.throwIfAborted();
    const forecasts: Record<string, string> = { Paris: 'sunny, 21 °C', Tokyo: 'light rain, 16 °C' };
    return `${city}: ${forecasts[city] ?? 'cloudy, 18 °C'}`;
  },
});

export async function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<readonly Anthropic.MessageParam[]> {
  const run$ = runTools(
    client,
    {
      model: MODEL,
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'What is the weather like in Paris and in Tokyo right now?' }],
    },
    {
      tools: [getWeather],
      maxTurns: 5,
      // Per request: a rate limit retries one turn, a stall fails it.
      perRequest: (events) => events.pipe(timeoutBetweenChunks({ first: 60_000, each: 30_000 }), retryOnRateLimit()),
    },
  );

  return lastValueFrom(
    run$.pipe(
      tap((event) => {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') write(event.delta.text);
        else if (event.type === 'content_block_start' && event.content_block.type === 'tool_use') {
          write(`\n[calling ${event.content_block.name}]`);
        } else if (event.type === 'turn_end') write('\n');
        else if (event.type === 'tool_result') {
          const { content } = event.result;
          const shown = typeof content === 'string' ? content : JSON.stringify(content);
          write(`[${event.isError ? 'failed' : 'result'} ${JSON.stringify(event.input)} -> ${shown}]\n`);
        }
      }),
      finalConversation(),
    ),
  );
}

/** What the fake server answers when no API key is set: two tool calls, then the answer. */
export function demo(server: FakeClaudeServer): void {
  const options = { delayMs: 30 };
  server.enqueue(
    streamReply(
      messageEvents(
        [
          text("I'll check the weather in both cities."),
          toolUse({ name: 'get_weather', input: { city: 'Paris' } }),
          toolUse({ name: 'get_weather', input: { city: 'Tokyo' } }),
        ],
        { chunkSize: 6 },
      ),
      options,
    ),
    streamReply(
      textMessage('Paris is sunny at 21 °C, while Tokyo has light rain at 16 °C. Pack an umbrella for Tokyo!', {
        chunkSize: 6,
      }),
      options,
    ),
  );
}

if (isEntryPoint(import.meta)) {
  await runDemo(demo, async (client) => {
    await main(client);
  });
}
