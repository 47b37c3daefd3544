import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type Anthropic from '@anthropic-ai/sdk';
import {
  messageEvents,
  redactedThinking,
  serverToolUse,
  text,
  textMessage,
  thinking,
  thinkingMessage,
  toolUse,
  toolUseMessage,
  webSearchToolResult,
} from 'claude-rx/testing';

type Event = Anthropic.Messages.RawMessageStreamEvent;

const citation: Anthropic.Messages.CitationCharLocation = {
  type: 'char_location',
  cited_text: 'Grass is green.',
  document_index: 0,
  document_title: 'Facts',
  start_char_index: 0,
  end_char_index: 15,
  file_id: null,
};

/** The `data:` objects of a recorded stream, pings dropped. */
function recordedEvents(name: string): Record<string, unknown>[] {
  const path = fileURLToPath(new URL(`../fixtures/recorded/${name}`, import.meta.url));
  return readFileSync(path, 'utf8')
    .split('\n\n')
    .map((frame) => /^data: (.*)$/m.exec(frame)?.[1])
    .filter((data): data is string => data !== undefined)
    .map((data) => JSON.parse(data) as Record<string, unknown>)
    .filter((event) => event['type'] !== 'ping');
}

/** Events with consecutive text / JSON deltas merged, so recordings and builders compare regardless of chunking. */
function merged(events: readonly object[]): unknown[] {
  const out: unknown[] = [];
  let run: { index: unknown; type: string; value: string } | undefined;
  const flush = (): void => {
    if (!run) return;
    const delta =
      run.type === 'input_json_delta'
        ? { type: run.type, partial_json: JSON.parse(run.value) as unknown }
        : { type: run.type, text: run.value };
    out.push({ type: 'content_block_delta', index: run.index, delta });
    run = undefined;
  };
  for (const event of events as Record<string, unknown>[]) {
    const delta = event['delta'] as Record<string, string> | undefined;
    if (
      event['type'] === 'content_block_delta' &&
      delta?.['type'] !== undefined &&
      delta['type'] !== 'citations_delta'
    ) {
      const piece = delta['text'] ?? delta['partial_json'] ?? '';
      if (run !== undefined && run.index === event['index'] && run.type === delta['type']) run.value += piece;
      else {
        flush();
        run = { index: event['index'], type: delta['type'], value: piece };
      }
      continue;
    }
    flush();
    out.push(event);
  }
  flush();
  return out;
}

const deltasOf = (events: Event[]): Anthropic.Messages.RawContentBlockDelta[] =>
  events.flatMap((event) => (event.type === 'content_block_delta' ? [event.delta] : []));

describe('event builders', () => {
  it('mirror a recorded text + tool_use stream, shapes and all', () => {
    const recorded = recordedEvents('tool_use_response.sse');
    const built = messageEvents(
      [
        text("I'll check the current weather in Paris for you."),
        toolUse({ id: 'toolu_01NRLabsLyVHZPKxbKvkfSMn', name: 'get_weather', input: { location: 'Paris' } }),
      ],
      { id: 'msg_019Q1hrJbZG26Fb9BQhrkHEr', model: 'claude-opus-4-8', usage: { input_tokens: 377, output_tokens: 65 } },
    );

    expect(merged(built)).toEqual(merged(recorded));
  });

  it('mirror a recorded stream whose message_delta carries a container', () => {
    const recorded = recordedEvents('code_execution_response.sse');
    const container = { id: 'container_01AbCdEfGhIjKlMnOpQrStUv', expires_at: '2030-01-01T00:00:00.000000+00:00' };
    const built = messageEvents([text('Running code.')], {
      id: 'msg_01ContainerSnapshotTest',
      model: 'claude-sonnet-4-20250514',
      usage: { input_tokens: 42, output_tokens: 4 },
      container: container as Anthropic.Messages.Container,
    });

    expect(built).toEqual(recorded);
  });

  it('split text into chunkSize code points, never inside a surrogate pair', () => {
    expect(deltasOf(messageEvents([text('abcdefg', { chunkSize: 3 })]))).toEqual([
      { type: 'text_delta', text: 'abc' },
      { type: 'text_delta', text: 'def' },
      { type: 'text_delta', text: 'g' },
    ]);
    expect(deltasOf(messageEvents([text('🎉🎉🎉')], { chunkSize: 2 }))).toEqual([
      { type: 'text_delta', text: '🎉🎉' },
      { type: 'text_delta', text: '🎉' },
    ]);
    expect(deltasOf(messageEvents([text('')]))).toEqual([]);
  });

  it('stream tool input as JSON pieces after an empty first one', () => {
    const events = messageEvents([toolUse({ id: 't', name: 'f', input: { a: 1 }, chunkSize: 3 })]);

    expect(events[1]).toEqual({
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'tool_use', id: 't', name: 'f', input: {} },
    });
    expect(deltasOf(events)).toEqual([
      { type: 'input_json_delta', partial_json: '' },
      { type: 'input_json_delta', partial_json: '{"a' },
      { type: 'input_json_delta', partial_json: '":1' },
      { type: 'input_json_delta', partial_json: '}' },
    ]);
  });

  it('build thinking, redacted thinking, server tool and web search result blocks', () => {
    const results = [
      { type: 'web_search_result' as const, title: 'T', url: 'https://x', encrypted_content: 'E', page_age: null },
    ];
    const events = messageEvents(
      [
        thinking('hmm', 'sig', { chunkSize: 2 }),
        redactedThinking('opaque'),
        serverToolUse({ id: 's1', name: 'web_search', input: { query: 'q' } }),
        webSearchToolResult({ toolUseId: 's1', content: results }),
      ],
      { id: 'msg_x' },
    );

    expect(events.slice(1, -2)).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'm' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'opaque' } },
      { type: 'content_block_stop', index: 1 },
      {
        type: 'content_block_start',
        index: 2,
        content_block: { type: 'server_tool_use', id: 's1', name: 'web_search', input: {} },
      },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"query":"q"}' } },
      { type: 'content_block_stop', index: 2 },
      {
        type: 'content_block_start',
        index: 3,
        content_block: { type: 'web_search_tool_result', tool_use_id: 's1', content: results },
      },
      { type: 'content_block_stop', index: 3 },
    ]);
    expect(events.at(-2)).toMatchObject({ delta: { stop_reason: 'end_turn' } });
  });

  it('send citations as citations_delta events before the text, on a start block without citations', () => {
    const events = textMessage('Grass is green.', { citations: [citation], chunkSize: 100 });

    expect(events.slice(1, 5)).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Grass is green.' } },
      { type: 'content_block_stop', index: 0 },
    ]);
  });

  it('put input and cache usage in message_start and output usage in message_delta', () => {
    const events = messageEvents([text('x')], {
      usage: {
        input_tokens: 5,
        cache_read_input_tokens: 3,
        output_tokens: 9,
        server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 },
      },
      stopReason: 'max_tokens',
      stopSequence: null,
    });

    expect(events[0]).toMatchObject({
      message: {
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 5,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 3,
          output_tokens: 1,
          service_tier: 'standard',
        },
      },
    });
    expect(events[0]).not.toHaveProperty('message.container');
    expect(events.at(-2)).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'max_tokens', stop_sequence: null },
      usage: { output_tokens: 9, server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 } },
    });
    expect(events.at(-1)).toEqual({ type: 'message_stop' });
  });

  it('default the stop reason to tool_use when a tool is called, and accept an explicit one', () => {
    const call = toolUse({ name: 'f', input: {} });

    expect(messageEvents([call]).at(-2)).toMatchObject({ delta: { stop_reason: 'tool_use' } });
    expect(messageEvents([text('x')]).at(-2)).toMatchObject({ delta: { stop_reason: 'end_turn' } });
    expect(messageEvents([call], { stopReason: null }).at(-2)).toMatchObject({ delta: { stop_reason: null } });
  });

  it('give each message a fresh API-shaped id unless one is given', () => {
    const [a, b] = [textMessage('x')[0], textMessage('x')[0]] as Anthropic.Messages.RawMessageStartEvent[];

    expect(a!.message.id).toMatch(/^msg_01\w{24}$/);
    expect(a!.message.id).not.toBe(b!.message.id);
    expect(messageEvents([toolUse({ name: 'f', input: 1 })])[1]).toMatchObject({
      content_block: { id: expect.stringMatching(/^toolu_01\w{24}$/) },
    });
  });

  it('build the shortcut messages', () => {
    const thought = thinkingMessage('think', 'answer', { signature: 's' });
    const call = toolUseMessage('f', { a: 1 }, { toolUseId: 't', text: 'Calling.' });

    expect(thought.filter((e) => e.type === 'content_block_start').map((e) => e.content_block.type)).toEqual([
      'thinking',
      'text',
    ]);
    expect(deltasOf(thought)).toContainEqual({ type: 'signature_delta', signature: 's' });
    expect(call.filter((e) => e.type === 'content_block_start').map((e) => e.content_block)).toEqual([
      { type: 'text', text: '' },
      { type: 'tool_use', id: 't', name: 'f', input: {} },
    ]);
    expect(call.at(-2)).toMatchObject({ delta: { stop_reason: 'tool_use' } });
  });

  it('return fresh objects on every call', () => {
    const block = text('x', { citations: [citation] });
    const first = messageEvents([block], { id: 'm' });
    (first[2] as { delta: { citation: { cited_text: string } } }).delta.citation.cited_text = 'changed';

    expect(messageEvents([block], { id: 'm' })[2]).toMatchObject({ delta: { citation } });
  });

  it('reject a chunkSize that is not a positive integer, naming it', () => {
    expect(() => text('x', { chunkSize: 0 })).toThrow(/chunkSize/);
    expect(() => messageEvents([], { chunkSize: 1.5 })).toThrow(TypeError);
    expect(() => toolUse({ name: 'f', input: undefined })).toThrow(/JSON/);
  });
});
