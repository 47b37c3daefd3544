import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { accumulateMessage, claudeStream, finalMessage, fromStreamEvents, type ClaudeStreamEvent } from 'claude-rx';
import { messageEvents, recordedReply, streamReply, toolUse, text, serverToolUse, webSearchToolResult, thinking, redactedThinking } from 'claude-rx/testing';
import { collect, PARAMS, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'recorded');

function drop(m: any) { const { parsed_output, ...rest } = m; void parsed_output; return rest; }

it('explore', async () => {
  const cases: Record<string, ClaudeStreamEvent[]> = {
    emptyTool: messageEvents([toolUse({ id: 't', name: 'n', input: {} })]),
    onlyEmptyDelta: messageEvents([{ type: 'tool_use', toEvents: (i) => [
      { type: 'content_block_start', index: i, content_block: { type: 'tool_use', id: 't', name: 'n', input: {} } } as any,
      { type: 'content_block_delta', index: i, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_stop', index: i }] }]),
    startInput: messageEvents([{ type: 'server_tool_use', toEvents: (i) => [
      { type: 'content_block_start', index: i, content_block: { type: 'server_tool_use', id: 't', name: 'web_search', input: { query: 'x' } } } as any,
      { type: 'content_block_stop', index: i }] }]),
    cutTool: messageEvents([{ type: 'tool_use', toEvents: (i) => [
      { type: 'content_block_start', index: i, content_block: { type: 'tool_use', id: 't', name: 'n', input: {} } } as any,
      { type: 'content_block_delta', index: i, delta: { type: 'input_json_delta', partial_json: '{"a": 12' } },
      { type: 'content_block_stop', index: i }] }]),
    emptyText: messageEvents([text(''), thinking('x', 'sig'), redactedThinking('d')]),
  };
  for (const [name, events] of Object.entries(cases)) {
    fake.server.enqueue(streamReply(events), streamReply(events), streamReply(events));
    let sdk: unknown; try { sdk = drop(await fake.client.messages.stream(PARAMS).finalMessage()); } catch (e) { sdk = String(e); }
    const acc = (await collect(claudeStream(fake.client, PARAMS).pipe(accumulateMessage()))).at(-1);
    let fin: unknown; try { fin = await lastValueFrom(claudeStream(fake.client, PARAMS).pipe(finalMessage())); } catch (e) { fin = String(e); }
    console.log(name, JSON.stringify({ sdk: (sdk as any).content ?? sdk, acc: acc?.content, fin: (fin as any).content ?? fin }, (k, v) => v === undefined ? '<undef>' : v));
  }
});
