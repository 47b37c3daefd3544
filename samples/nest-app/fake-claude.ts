import type Anthropic from '@anthropic-ai/sdk';
import {
  messageEvents,
  streamReply,
  text,
  thinking,
  toolUse,
  type FakeClaudeServer,
  type FakeReply,
  type RecordedRequest,
} from 'claude-rx/testing';

/** Options of {@link scriptFakeClaude}. */
export interface FakeClaudeScriptOptions {
  /** Milliseconds before each streamed event: the pace of the answers. @defaultValue 30, a human reading pace */
  readonly delayMs?: number;
}

/** The story the fake server tells (the answer to a prompt that is neither about the weather nor an overload). */
export const STORY =
  'Every night for thirty years, Ada climbed the hundred and twelve steps of the Skerry light and wound the lamp. ' +
  'Ships passed, and she never met them. Then, one November, the sea began to sing.\n\n' +
  'The whale was young, and alone. It circled the rocks below the tower, calling into the dark, and no answer came. ' +
  'Ada listened until the lamp had turned a thousand times. Then she did something no keeper had done: ' +
  'she slowed the light, long and short, long and short, the rhythm of the song.\n\n' +
  'The whale fell silent. It followed the beam out past the reef, where the water turns black and deep, ' +
  'and sang once more. Far off, something sang back.\n\n' +
  'At dawn the sea was empty. Ada set the lamp to its proper rhythm, wrote "calm, light airs" in the log, ' +
  'and for the first time in thirty years, she did not feel alone.';

/** The text of the last user turn, and the tool results it carries. */
function lastUserTurn(request: RecordedRequest): { prompt: string; toolResults: string[] } {
  const messages = (request.body?.['messages'] ?? []) as Anthropic.Messages.MessageParam[];
  const last = messages.at(-1);
  if (last === undefined || last.role !== 'user') return { prompt: '', toolResults: [] };
  if (typeof last.content === 'string') return { prompt: last.content, toolResults: [] };
  const prompt = last.content.map((block) => (block.type === 'text' ? block.text : '')).join(' ');
  const toolResults = last.content.flatMap((block) =>
    block.type === 'tool_result' && typeof block.content === 'string' ? [block.content] : [],
  );
  return { prompt, toolResults };
}

function cityIn(prompt: string): string {
  return /\b(?:in|for|at)\s+([A-Z][\p{L}-]+(?:\s[A-Z][\p{L}-]+)?)/u.exec(prompt)?.[1] ?? 'Lisbon';
}

/**
 * Scripts the fake Claude server for the demo, per request, from what the user asked:
 *
 * - a last user turn carrying a `tool_result`: the final answer, from the tool's result;
 * - a prompt about the weather: thinking, a sentence, then a `get_weather` tool call;
 * - a prompt with "overload": thinking and the start of an answer, then an `overloaded_error` mid-stream;
 * - anything else: thinking, then a short story.
 *
 * Answers stream at `delayMs` per event, with usage (cache reads included) as the API reports it.
 */
export function scriptFakeClaude(server: FakeClaudeServer, { delayMs = 30 }: FakeClaudeScriptOptions = {}): void {
  server.respondWith((request): FakeReply => {
    const { prompt, toolResults } = lastUserTurn(request);
    const usage = { input_tokens: 40 + Math.ceil(request.rawBody.length / 4), cache_read_input_tokens: 512 };

    if (toolResults.length > 0) {
      const result = JSON.parse(toolResults[0] ?? '{}') as { city?: string; celsius?: number; sky?: string };
      const answer =
        `Right now in ${result.city ?? 'that city'} it is ${String(result.celsius ?? '?')} °C with ${result.sky ?? 'mixed weather'}. ` +
        'A good day for a walk, if you bring the right jacket.';
      return streamReply(messageEvents([text(answer, { chunkSize: 4 })], { usage: { ...usage, output_tokens: 38 } }), {
        delayMs,
      });
    }

    if (/weather|forecast/i.test(prompt)) {
      const city = cityIn(prompt);
      const events = messageEvents(
        [
          thinking(
            `The user asks about the weather in ${city}. I have a get_weather tool: I will call it.`,
            'sig-weather',
            {
              chunkSize: 6,
            },
          ),
          text(`Let me check the weather in ${city}.`, { chunkSize: 4 }),
          toolUse({ name: 'get_weather', input: { city }, chunkSize: 5 }),
        ],
        { usage: { ...usage, output_tokens: 64 } },
      );
      return streamReply(events, { delayMs });
    }

    const plan =
      `The user wrote: "${prompt.slice(0, 80)}". A short story, then: a lighthouse keeper, alone, and a whale ` +
      'that has lost its pod. The light could guide the whale home, the way it guides ships. Keep it quiet and warm.';

    if (/overload/i.test(prompt)) {
      const events = messageEvents([thinking(plan, 'sig-overload', { chunkSize: 8 }), text(STORY, { chunkSize: 4 })], {
        usage: { ...usage, output_tokens: 251 },
      });
      // Cut the answer after a few words, as an overloaded API does mid-stream.
      const firstText = events.findIndex(
        (event) => event.type === 'content_block_delta' && event.delta.type === 'text_delta',
      );
      return streamReply(events, {
        delayMs,
        errorAfter: { events: firstText + 12, error: { type: 'overloaded_error', message: 'Overloaded' } },
      });
    }

    const events = messageEvents([thinking(plan, 'sig-story', { chunkSize: 8 }), text(STORY, { chunkSize: 4 })], {
      usage: { ...usage, output_tokens: 251 },
    });
    return streamReply(events, { delayMs });
  });
}
