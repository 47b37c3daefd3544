/**
 * Tool use with a manual loop: stream each turn, run the tools Claude calls, send the results back, repeat until
 * Claude ends its turn.
 *
 * The RxJS form of the Python SDK's loop around `client.messages.stream(tools=...)` and `get_final_message()`.
 * Each turn is one request shared by three views (`connect()`): `textOnly()` prints the text as it streams,
 * `toolInputs()` reports each tool call as soon as its input is complete, and `finalMessage()` gives the whole
 * message, which goes back into the conversation with one `tool_result` per `tool_use` block.
 *
 * Run: `node dist/samples/tool-use-loop.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake server).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { connect, filter, ignoreElements, lastValueFrom, merge, tap } from 'rxjs';
import { claudeStream, finalMessage, textOnly, toolInputs } from 'claude-rx';
import { messageEvents, streamReply, text, textMessage, toolUse, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The current weather in a city.',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string', description: 'The city, e.g. Paris' } },
    required: ['city'],
  },
};

/** The local tool: a real one would call a weather service. */
function getWeather(input: unknown): string {
  const city = (input as { city?: unknown }).city;
  const forecasts: Record<string, string> = { Paris: 'sunny, 21 °C', Tokyo: 'light rain, 16 °C' };
  return typeof city === 'string' ? `${city}: ${forecasts[city] ?? 'cloudy, 18 °C'}` : 'No city given';
}

/** Runs one tool call and wraps its result for the next request. */
function runTool(block: Anthropic.ToolUseBlock): Anthropic.ToolResultBlockParam & { content: string } {
  if (block.name !== weatherTool.name) {
    return { type: 'tool_result', tool_use_id: block.id, content: `Unknown tool ${block.name}`, is_error: true };
  }
  return { type: 'tool_result', tool_use_id: block.id, content: getWeather(block.input) };
}

/** A bound on the number of requests, in case the model keeps calling tools. */
const MAX_TURNS = 5;

export async function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const messages: Anthropic.MessageParam[] = [
    { role: 'user', content: 'What is the weather like in Paris and in Tokyo right now?' },
  ];

  for (let turn = 1; turn <= MAX_TURNS; turn++) {
    const message = await lastValueFrom(
      claudeStream(client, { model: MODEL, max_tokens: 1024, tools: [weatherTool], messages }).pipe(
        connect((events$) =>
          merge(
            events$.pipe(textOnly(), tap(write), ignoreElements()),
            events$.pipe(
              toolInputs(),
              filter((call) => call.done),
              tap((call) => write(`\n[calling ${call.name} ${call.json}]`)),
              ignoreElements(),
            ),
            events$.pipe(finalMessage()),
          ),
        ),
      ),
    );
    write('\n');
    messages.push({ role: 'assistant', content: message.content });
    if (message.stop_reason !== 'tool_use') return;

    const results = message.content.filter((block) => block.type === 'tool_use').map(runTool);
    for (const result of results) write(`[result ${result.content}]\n`);
    messages.push({ role: 'user', content: results });
  }
  throw new Error(`Still calling tools after ${MAX_TURNS} turns`);
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

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
