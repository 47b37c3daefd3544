import { lastValueFrom, Observable, toArray } from 'rxjs';
import {
  accumulateMessage,
  claudeStream,
  defineTool,
  finalMessage,
  fromMessageStream,
  runTools,
  textOnly,
  tokenUsage,
  toolInputs,
  type ClaudeBetaStreamEvent,
  type ClaudeRxEvent,
} from 'claude-rx';
import { toSse } from 'claude-rx/nest';
import { streamReply, type FakeStreamEvent } from 'claude-rx/testing';
import { collect, PARAMS, trackUnhandledRejections, useFakeClaude } from './support/harness.js';

// Beta streams (client.beta.messages): every operator, toSse and runTools with the SDK's BetaMessageStream as the
// oracle, for the block and delta kinds only the beta API has.

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const BETA_PARAMS = { ...PARAMS, betas: ['compact-2026-01-12', 'mcp-client-2025-11-20'] };

const usage = { input_tokens: 40, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

/** A beta answer: a compaction block (its delta assigns), an MCP tool call (its input accumulates), text, a fallback. */
function betaEvents(): FakeStreamEvent[] {
  return [
    {
      type: 'message_start',
      message: {
        id: 'msg_beta_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-first-choice',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage,
      },
    },
    {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'compaction', content: null, encrypted_content: null },
    },
    {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'compaction_delta', content: 'Earlier: ', encrypted_content: null },
    },
    {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'compaction_delta', content: 'the user said hi.', encrypted_content: 'enc_1' },
    },
    { type: 'content_block_stop', index: 0 },
    {
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'mcp_tool_use', id: 'mcptoolu_1', name: 'lookup', server_name: 'docs', input: {} },
    },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"query": "stre' } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'aming", "limit": 3}' } },
    { type: 'content_block_stop', index: 1 },
    {
      type: 'content_block_start',
      index: 2,
      content_block: {
        type: 'mcp_tool_result',
        tool_use_id: 'mcptoolu_1',
        is_error: false,
        content: [{ type: 'text', text: 'found' }],
      },
    },
    { type: 'content_block_stop', index: 2 },
    { type: 'content_block_start', index: 3, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 3, delta: { type: 'text_delta', text: 'Streams ' } },
    { type: 'content_block_delta', index: 3, delta: { type: 'text_delta', text: 'flow.' } },
    { type: 'content_block_stop', index: 3 },
    {
      type: 'content_block_start',
      index: 4,
      content_block: {
        type: 'fallback',
        from: { model: 'claude-first-choice' },
        to: { model: 'claude-fallback' },
        trigger: { type: 'refusal' },
      },
    },
    { type: 'content_block_stop', index: 4 },
    // A kind that does not exist yet: passed through untouched, kept as it came.
    { type: 'content_block_start', index: 5, content_block: { type: 'future_block', detail: 7 } },
    { type: 'content_block_delta', index: 5, delta: { type: 'future_delta', detail: 8 } },
    { type: 'content_block_stop', index: 5 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 25, iterations: [{ type: 'message', input_tokens: 40, output_tokens: 25 }] },
      context_management: { applied_edits: [] },
    },
    { type: 'message_stop' },
  ];
}

/** The SDK's BetaMessageStream `finalMessage()`, without its non-standard `parsed_output` (as the other specs do). */
async function sdkFinalMessage(): Promise<unknown> {
  fake.server.enqueue(streamReply(betaEvents()));
  const { parsed_output: _parsed, ...message } = await fake.client.beta.messages.stream(BETA_PARAMS).finalMessage();
  return message;
}

describe('beta streams', () => {
  it('go through client.beta.messages, with the betas header', async () => {
    fake.server.enqueue(streamReply(betaEvents()));
    const events = await collect(claudeStream(fake.client, BETA_PARAMS));
    expect(events.map((event) => event.type).at(-1)).toBe('message_stop');
    const request = fake.server.requests[0]!;
    expect(request.headers['anthropic-beta']).toBe('compact-2026-01-12,mcp-client-2025-11-20');
    expect(request.body).not.toHaveProperty('betas');
  });

  it("accumulate to what the SDK's BetaMessageStream gives: compaction assigned, MCP input parsed, fallback model", async () => {
    const expected = await sdkFinalMessage();
    expect(expected).toMatchObject({ model: 'claude-fallback', context_management: { applied_edits: [] } });
    const [compaction, mcpCall] = (expected as { content: unknown[] }).content;
    expect(compaction).toEqual({ type: 'compaction', content: 'the user said hi.', encrypted_content: 'enc_1' });
    expect(mcpCall).toMatchObject({ type: 'mcp_tool_use', input: { query: 'streaming', limit: 3 } });

    fake.server.enqueue(streamReply(betaEvents()), streamReply(betaEvents()));
    const snapshots = await collect(claudeStream(fake.client, BETA_PARAMS).pipe(accumulateMessage()));
    const final = await lastValueFrom(claudeStream(fake.client, BETA_PARAMS).pipe(finalMessage()));
    expect(snapshots.at(-1)).toEqual(expected);
    expect(final).toEqual(expected);
  });

  it('give their text, usage (with beta counters) and SSE events like any stream', async () => {
    fake.server.enqueue(streamReply(betaEvents()), streamReply(betaEvents()), streamReply(betaEvents()));
    expect((await collect(claudeStream(fake.client, BETA_PARAMS).pipe(textOnly()))).join('')).toBe('Streams flow.');
    const usages = await collect(claudeStream(fake.client, BETA_PARAMS).pipe(tokenUsage()));
    expect(usages.at(-1)).toMatchObject({ input_tokens: 40, output_tokens: 25, iterations: [{ output_tokens: 25 }] });
    const sse = await collect(
      claudeStream(fake.client, BETA_PARAMS).pipe(toSse({ heartbeatMs: false, events: ['compaction_delta'] })),
    );
    expect(sse.map((event) => event.type)).toEqual(['content_block_delta', 'content_block_delta', 'done']);
    expect(JSON.parse(sse[1]!.data as string)).toEqual({
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'compaction_delta', content: 'the user said hi.', encrypted_content: 'enc_1' },
    });
  });

  it("come from the SDK's BetaMessageStream too (fromMessageStream)", async () => {
    const expected = await sdkFinalMessage();
    fake.server.enqueue(streamReply(betaEvents()));
    const events$: Observable<ClaudeBetaStreamEvent> = fromMessageStream(fake.client.beta.messages.stream(BETA_PARAMS));
    expect(await lastValueFrom(events$.pipe(finalMessage()))).toEqual(expected);
  });

  it("follow an MCP tool call's input with toolInputs()", async () => {
    fake.server.enqueue(streamReply(betaEvents()));
    const inputs = await collect(claudeStream(fake.client, BETA_PARAMS).pipe(toolInputs()));
    expect(inputs.at(-1)).toMatchObject({
      done: true,
      blockType: 'mcp_tool_use',
      id: 'mcptoolu_1',
      input: { query: 'streaming', limit: 3 },
    });
  });

  it('pass kinds that do not exist yet through untouched', async () => {
    fake.server.enqueue(streamReply(betaEvents()));
    const events: ClaudeRxEvent[] = await collect(claudeStream(fake.client, BETA_PARAMS));
    const future = events.filter((event) => JSON.stringify(event).includes('future_'));
    expect(future).toEqual([
      { type: 'content_block_start', index: 5, content_block: { type: 'future_block', detail: 7 } },
      { type: 'content_block_delta', index: 5, delta: { type: 'future_delta', detail: 8 } },
    ]);
  });

  it('run a tool loop through the beta API, every turn with the betas', async () => {
    const toolCall = betaEvents().slice(0, 1);
    fake.server.enqueue(
      streamReply([
        ...toolCall,
        {
          type: 'content_block_start',
          index: 0,
          content_block: { type: 'tool_use', id: 'toolu_1', name: 'now', input: {} },
        },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } },
        { type: 'message_stop' },
      ]),
      streamReply(betaEvents()),
    );
    const now = defineTool({ name: 'now', input_schema: { type: 'object' }, run: () => 'noon' });
    const run = await lastValueFrom(runTools(fake.client, BETA_PARAMS, { tools: [now] }).pipe(toArray()));
    expect(run.at(-1)).toMatchObject({ type: 'turn_end', turn: 2, message: { model: 'claude-fallback' } });
    expect(fake.server.requests.map((request) => request.headers['anthropic-beta'])).toEqual([
      'compact-2026-01-12,mcp-client-2025-11-20',
      'compact-2026-01-12,mcp-client-2025-11-20',
    ]);
    const second = fake.server.requests[1]!.body!['messages'] as { role: string; content: unknown }[];
    expect(second.at(-1)).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'noon' }],
    });
  });

  it('are typed with the beta events', () => {
    // A compile-time check: the beta overload gives the beta events (`npm run typecheck` fails otherwise).
    const events$: Observable<ClaudeBetaStreamEvent> = claudeStream(fake.client, BETA_PARAMS);
    expect(events$).toBeInstanceOf(Observable);
    expect(fake.server.requests).toHaveLength(0);
  });
});
