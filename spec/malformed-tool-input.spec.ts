import { AnthropicError } from '@anthropic-ai/sdk';
import { lastValueFrom, tap, toArray } from 'rxjs';
import {
  accumulateMessage,
  claudeStream,
  defineTool,
  finalMessage,
  partialMessageOf,
  runTools,
  ToolInputParseError,
  type ClaudeRxEvent,
} from 'claude-rx';
import { streamReply } from 'claude-rx/testing';
import { errorOf, PARAMS, trackUnhandledRejections, useFakeClaude } from './support/harness.js';
import { MALFORMED_JSON_PIECES, malformedToolMessage } from './support/malformed-tool-input.js';

// A tool input that is not JSON: the SDK's finalMessage() rejects; claude-rx must not hand out a repaired value that
// the model never sent (a tool could run on it). One of the SDK's own test streams.

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const JSON_TEXT = MALFORMED_JSON_PIECES.join('');

function expectParseError(error: unknown): void {
  expect(error).toBeInstanceOf(ToolInputParseError);
  const parseError = error as ToolInputParseError;
  expect(parseError).toMatchObject({ index: 1, toolUseId: 'toolu_bad', toolName: 'lookup', json: JSON_TEXT });
  expect(parseError.cause).toBeInstanceOf(SyntaxError);
  // The message so far stays reachable, the text block whole.
  const partial = partialMessageOf(error);
  expect(partial).toBe(parseError.partial);
  expect(partial?.content[0]).toEqual({ type: 'text', text: 'Let me look that up.' });
}

describe('a tool input that is not JSON', () => {
  it("makes the SDK's own finalMessage() reject (the oracle)", async () => {
    fake.server.enqueue(streamReply(malformedToolMessage()));
    const error: unknown = await fake.client.messages
      .stream(PARAMS)
      .finalMessage()
      .catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(AnthropicError);
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it('makes finalMessage() fail with ToolInputParseError, the partial message reachable', async () => {
    fake.server.enqueue(streamReply(malformedToolMessage()));
    expectParseError(await errorOf(claudeStream(fake.client, PARAMS).pipe(finalMessage())));
  });

  it("makes accumulateMessage() fail at the block's end; the snapshots before it were best-effort", async () => {
    fake.server.enqueue(streamReply(malformedToolMessage()));
    const inputs: unknown[] = [];
    const error = await new Promise((resolve) => {
      claudeStream(fake.client, PARAMS)
        .pipe(accumulateMessage())
        .subscribe({
          next: (message) => {
            const block = message.content[1];
            if (block?.type === 'tool_use') inputs.push(block.input);
          },
          error: resolve,
          complete: () => resolve(new Error('completed')),
        });
    });
    expectParseError(error);
    // While it streamed: the best effort, up to the first bad character.
    expect(inputs.at(-1)).toEqual({ foo: 'bar', baz: 'qux' });
  });

  it('ends runTools with ToolInputParseError before any tool runs, and sends no further request', async () => {
    fake.server.enqueue(streamReply(malformedToolMessage()));
    const calls: unknown[] = [];
    const lookup = defineTool({
      name: 'lookup',
      description: 'Looks up a value.',
      inputSchema: { type: 'object' },
      run: (input) => calls.push(input),
    });
    const seen: ClaudeRxEvent[] = [];
    const error = await errorOf(runTools(fake.client, PARAMS, { tools: [lookup] }).pipe(tap((e) => seen.push(e))));
    expectParseError(error);
    expect(calls).toEqual([]);
    expect(seen.some((event) => event.type === 'tool_result')).toBe(false);
    expect(fake.server.requests).toHaveLength(1);
  });

  it('lets the raw events through unchanged: only the message builders judge the input', async () => {
    fake.server.enqueue(streamReply(malformedToolMessage()));
    const events = await lastValueFrom(claudeStream(fake.client, PARAMS).pipe(toArray()));
    expect(events.at(-1)).toEqual({ type: 'message_stop' });
  });
});
