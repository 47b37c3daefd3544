import type Anthropic from '@anthropic-ai/sdk';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, from, lastValueFrom, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { claudeStream, finalMessage, fromStreamEvents, IncompleteStreamError, type ClaudeRxEvent } from 'claude-rx';
import { messageEvents, recordedReply, streamReply, text, textMessage, thinking, toolUse } from 'claude-rx/testing';
import { errorOf, PARAMS, trackUnhandledRejections, useFakeClaude, folderOf } from '../support/harness.js';
import { recordParserCalls } from '../support/parser-calls.js';
import { everyBlockKind } from '../support/every-block-kind.js';

type Message = Anthropic.Messages.Message;

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const FIXTURES = join(folderOf(import.meta.url), '..', 'fixtures', 'recorded');

/** Errors compared by class, message, cause and own fields (`partial`): plain toEqual compares only the message. */
function comparable(log: unknown): unknown {
  if (!Array.isArray(log)) return log;
  return log.map((entry: { notification?: { kind: string; error?: unknown } }) =>
    entry.notification?.kind === 'E'
      ? { ...entry, notification: { ...entry.notification, error: describeError(entry.notification.error) } }
      : entry,
  );
}
function describeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  return { ...error, class: error.constructor.name, message: error.message, cause: error.cause };
}
const scheduler = () =>
  new TestScheduler((actual, expected) => expect(comparable(actual)).toEqual(comparable(expected)));

const ev = (event: object) => event as ClaudeRxEvent;
const M1 = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-5-5',
  content: [],
  stop_reason: null,
  stop_sequence: null,
  usage: { input_tokens: 3, output_tokens: 1 },
};
const M2 = { ...M1, id: 'msg_2' };
const E = {
  s: ev({ type: 'message_start', message: M1 }),
  S: ev({ type: 'message_start', message: M2 }),
  b: ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  h: ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } }),
  l: ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } }),
  x: ev({ type: 'content_block_stop', index: 0 }),
  // a thinking block at 0 (signed: k K g y) and an empty text block at 1 (B)
  k: ev({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
  K: ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm.' } }),
  g: ev({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig_1' } }),
  y: ev({ type: 'content_block_stop', index: 0 }),
  B: ev({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }),
  H: ev({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hi' } }),
  d: ev({
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 5 },
  }),
  z: ev({ type: 'message_stop' }),
  r: ev({ type: 'stream_restart', attempt: 1, delayMs: 10, error: new Error('overloaded') }),
};
const DONE = { stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 5 } };
const V = {
  e: { ...M1, content: [] },
  m: { ...M1, ...DONE, content: [{ type: 'text', text: 'Hello' }] },
  n: { ...M2, ...DONE, content: [{ type: 'text', text: 'lo' }] },
};

/** The SDK's `finalMessage()` for the next scripted reply, without its non-standard `parsed_output`. */
async function sdkFinalMessage(): Promise<Omit<Message, 'parsed_output'>> {
  const { parsed_output: _parsed, ...standard } = await fake.client.messages.stream(PARAMS).finalMessage();
  return standard;
}

/** What an assistant turn built from a partial message must not hold. */
function unsafeToResend(message: Message): string[] {
  return message.content.flatMap((block, index) => {
    if (block.type === 'thinking' && !block.signature) return [`${index}: thinking without signature`];
    if (block.type === 'text' && block.text === '') return [`${index}: empty text`];
    if ((block.type === 'tool_use' || block.type === 'server_tool_use') && typeof block.input !== 'object') {
      return [`${index}: tool input ${JSON.stringify(block.input)}`];
    }
    return [];
  });
}

describe('finalMessage', () => {
  describe('marbles', () => {
    it('never emits for a source that never emits', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-', E);
        const subs = '                      ^';
        const expected = '                  -';
        expectObservable(source.pipe(finalMessage())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('fails with IncompleteStreamError without a partial message for an empty source', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('|', E);
        const subs = '                      (^!)';
        const expected = '                  #';
        expectObservable(source.pipe(finalMessage())).toBe(expected, V, new IncompleteStreamError(undefined));
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits one message, once the source completes', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-s-z-|', E);
        const subs = '                      ^----!';
        const expected = '                  -----(e|)';
        expectObservable(source.pipe(finalMessage())).toBe(expected, V);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits the whole message, built from all its events, once the source completes', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('s-b-h-l-x-d-z-|', E);
        const subs = '                      ^-------------!';
        const expected = '                  --------------(m|)';
        expectObservable(source.pipe(finalMessage())).toBe(expected, V);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits the last message when a second message_start starts a new one', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-b-h-l-x-d-z-S-b-l-x-d-z-|', E);
        const expected = '                  --------------------------(n|)';
        expectObservable(source.pipe(finalMessage())).toBe(expected, V);
      });
    });

    it('forgets what came before a stream_restart marker', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-b-h-r-l-S-b-l-x-d-z-|', E);
        const expected = '                  ----------------------(n|)';
        expectObservable(source.pipe(finalMessage())).toBe(expected, V);
      });
    });

    it('fails with IncompleteStreamError and the partial message when the source completes before message_stop', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-b-h-x-d-|', E);
        const expected = '                  ----------#';
        const partial = { ...M1, ...DONE, content: [{ type: 'text', text: 'Hel' }] } as unknown as Message;
        expectObservable(source.pipe(finalMessage())).toBe(expected, V, new IncompleteStreamError(partial));
      });
    });

    const THOUGHT = { type: 'thinking', thinking: 'Hmm.', signature: 'sig_1' };
    // prettier-ignore
    it.each([
      ['an unsigned thinking block and an empty text block',   's-k-K-x-B-|',     '----------#',     []],
      ['an empty text block, keeping a signed thinking block', 's-k-K-g-y-B-|',   '------------#',   [THOUGHT]],
      ['nothing when every block can be sent back',            's-k-K-g-y-B-H-|', '--------------#', [THOUGHT, { type: 'text', text: 'Hi' }]],
    ])('leaves out of the partial message %s', (_case, sourceMarbles, expectedMarbles, content) => {
      scheduler().run(({ cold, expectObservable }) => {
        const partial = new IncompleteStreamError({ ...M1, content } as unknown as Message);
        expectObservable(cold<ClaudeRxEvent>(sourceMarbles, E).pipe(finalMessage())).toBe(expectedMarbles, V, partial);
      });
    });

    it("passes the source's error through unchanged", () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const lost = new TypeError('terminated');
        const source = cold<ClaudeRxEvent>('-s-b-#', E, lost);
        const subs = '                      ^----!';
        const expected = '                  -----#';
        expectObservable(source.pipe(finalMessage())).toBe(expected, V, lost);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it("passes an IncompleteStreamError from claudeStream through unchanged, with claudeStream's partial", () => {
      scheduler().run(({ cold, expectObservable }) => {
        const partial = { ...M1, content: [{ type: 'text', text: 'H' }] } as unknown as Message;
        const incomplete = new IncompleteStreamError(partial, { cause: new TypeError('terminated') });
        const source = cold<ClaudeRxEvent>('-s-b-h-#', E, incomplete);
        const expected = '                  -------#';
        expectObservable(source.pipe(finalMessage())).toBe(expected, V, incomplete);
      });
    });

    it('unsubscribes the source when the subscriber unsubscribes early', () => {
      scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<ClaudeRxEvent>('-s-b-h-l-x-d-z-|', E);
        const unsub = '                    ^------!';
        const expected = '                 --------';
        expectObservable(source.pipe(finalMessage()), unsub).toBe(expected, V);
        expectSubscriptions(source.subscriptions).toBe(unsub);
      });
    });
  });

  describe("equals the SDK's finalMessage() for the same bytes", () => {
    it.each(readdirSync(FIXTURES).filter((file) => file.endsWith('.sse')))('for the recorded %s', async (file) => {
      const body = readFileSync(join(FIXTURES, file));
      fake.server.enqueue(recordedReply(body), recordedReply(body));
      const expected = await sdkFinalMessage().catch((error: unknown) => error);
      const ours = await lastValueFrom(claudeStream(fake.client, PARAMS).pipe(finalMessage())).catch(
        (error: unknown) => error,
      );
      if (expected instanceof Error) {
        // incomplete_partial_json_response.sse: its message_stop frame lacks the blank line that would dispatch it;
        // the SDK has no final message, and claudeStream's IncompleteStreamError passes through.
        expect(file).toBe('incomplete_partial_json_response.sse');
        expect(ours).toBeInstanceOf(IncompleteStreamError);
        expect((ours as IncompleteStreamError).partial?.content[1]).toMatchObject({ input: { filename: 'taxes.txt' } });
      } else {
        expect(ours).toStrictEqual(expected);
        expect((ours as Message).id).toMatch(/^msg_/);
      }
    });

    it('for a generated stream with every block kind and a container, cut into 11-byte chunks', async () => {
      const events = everyBlockKind({
        container: { id: 'container_1', expires_at: '2030-01-01T00:00:00Z' } as Anthropic.Messages.Container,
      });
      fake.server.enqueue(streamReply(events, { chunkBytes: 11 }), streamReply(events, { chunkBytes: 11 }));
      const expected = await sdkFinalMessage();
      const ours = await lastValueFrom(claudeStream(fake.client, PARAMS).pipe(finalMessage()));
      expect(ours).toStrictEqual(expected);
      expect(ours.content.map((block) => block.type)).toEqual([
        'thinking',
        'redacted_thinking',
        'text',
        'text',
        'server_tool_use',
        'web_search_tool_result',
        'tool_use',
      ]);
      expect(ours.content[6]).toMatchObject({ input: { city: 'Paris', days: [1, 2, 3], unit: 'C' } });
      expect(ours.container).toEqual({ id: 'container_1', expires_at: '2030-01-01T00:00:00Z' });
    });

    it('for a stop sequence', async () => {
      const events = textMessage('Done ###', { stopReason: 'stop_sequence', stopSequence: '###' });
      fake.server.enqueue(streamReply(events), streamReply(events));
      const expected = await sdkFinalMessage();
      const ours = await firstValueFrom(claudeStream(fake.client, PARAMS).pipe(finalMessage()));
      expect(ours).toStrictEqual(expected);
      expect(ours).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: '###' });
    });
  });

  describe('against the fake server', () => {
    it('cut short by the pipeline: IncompleteStreamError with a partial message safe to resend, and the request closed', async () => {
      // take(12): message_start; a signed thinking block (start, 4 deltas, signature, stop); an empty text block
      // (start, stop); an unsigned thinking block (start, 1 delta). The server stalls after 14 events, so it is still
      // streaming when take() unsubscribes and completes.
      const events = messageEvents([
        thinking('Thinking it over', 'sig_1', { chunkSize: 4 }),
        text('', { chunkSize: 1 }),
        thinking('Unsigned', 'sig_2'),
        text('Answer'),
      ]);
      fake.server.enqueue(streamReply(events, { stallAfter: 14 }));
      const error = await errorOf(claudeStream(fake.client, PARAMS).pipe(take(12), finalMessage()));
      expect(error).toBeInstanceOf(IncompleteStreamError);
      const partial = (error as IncompleteStreamError).partial!;
      expect(partial.content).toEqual([{ type: 'thinking', thinking: 'Thinking it over', signature: 'sig_1' }]);
      expect(unsafeToResend(partial)).toEqual([]);
      expect(partial.stop_reason).toBeNull();
      const request = fake.server.requests[0]!;
      await request.closed;
      expect(request.closedByClient).toBe(true);
    });

    // The API's first input_json_delta is always empty: an assistant turn needs an object input there, as the SDK gives.
    it('cut right after a tool block began: the partial tool_use has an object input', async () => {
      const events = messageEvents([
        text('Let me check.'),
        toolUse({ id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }),
      ]);
      const untilEmptyDelta =
        events.findIndex((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') + 1;
      const error = await errorOf(from(events.slice(0, untilEmptyDelta)).pipe(finalMessage()));
      const partial = (error as IncompleteStreamError).partial!;
      expect(partial.content[1]).toEqual({ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} });
      expect(unsafeToResend(partial)).toEqual([]);
    });

    it('parses tool input once, at the end: a 1 MB input in 16-byte deltas is scanned once', async () => {
      const input = { path: 'notes/big.txt', content: 'A line with "quotes", \\ and ünicode 😀\n'.repeat(26_000) };
      const json = JSON.stringify(input);
      expect(json.length).toBeGreaterThan(1_000_000);
      const events = messageEvents([toolUse({ id: 'toolu_big', name: 'write_file', input, chunkSize: 16 })]);
      const pushed = recordParserCalls('push');
      let message: Message;
      try {
        async function* recorded() {
          yield* events;
        }
        message = await lastValueFrom(fromStreamEvents(recorded()).pipe(finalMessage()));
      } finally {
        pushed.restore();
      }
      const parsers = new Set(pushed.calls);
      const pushes = pushed.calls.length;
      expect(message.content).toEqual([{ type: 'tool_use', id: 'toolu_big', name: 'write_file', input }]);
      expect(pushes).toBe(1);
      expect([...parsers].map((parser) => parser.charsScanned)).toEqual([json.length]);
    });
  });
});
