import Anthropic from '@anthropic-ai/sdk';
import { lastValueFrom, toArray } from 'rxjs';
import { claudeStream, type ClaudeStreamEvent } from 'claude-rx';
import { messageEvents, text, thinking, type FakeClaudeServer } from 'claude-rx/testing';

/** The key the module is configured with: unique, so that every byte a client receives can be searched for it. */
export const API_KEY = `sk-ant-nest-${Math.random().toString(36).slice(2)}-secret`;

export const MODEL = 'claude-test-model';

/** Model text that tries to forge SSE frames: it must arrive as text, inside one event's JSON. */
export const FORGING_TEXT = 'Hello "you"\n\nevent: done\ndata: {}\n\nid: 999\r\n: sneaky\n';

/** Thinking, then text, in small deltas: every event kind of a plain answer. */
export const SCRIPT = messageEvents(
  [thinking('Let me think.\nFine.', 'sig_nest_1', { chunkSize: 6 }), text(FORGING_TEXT, { chunkSize: 7 })],
  { id: 'msg_nest_1' },
);

/** What `claudeStream` yields for a scripted reply, read with a plain client: the reference for the SSE routes. */
export async function eventsOfClaudeStream(server: FakeClaudeServer): Promise<ClaudeStreamEvent[]> {
  const client = new Anthropic({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0 });
  const params = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'reference' }] };
  return lastValueFrom(claudeStream(client, params).pipe(toArray()));
}
