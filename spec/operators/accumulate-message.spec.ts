import type Anthropic from '@anthropic-ai/sdk';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  accumulateMessage,
  claudeStream,
  fromStreamEvents,
  IncompleteStreamError,
  type ClaudeRxEvent,
  type ClaudeStreamEvent,
} from 'claude-rx';
import {
  messageEvents,
  recordedReply,
  streamReply,
  text,
  textMessage,
  toolUse,
  type BlockSpec,
} from 'claude-rx/testing';
import { recordParserCalls } from '../support/parser-calls.js';
import { PARAMS, sleep, trackUnhandledRejections, useFakeClaude, folderOf } from '../support/harness.js';
import { CITATION, everyBlockKind } from '../support/every-block-kind.js';

type Message = Anthropic.Messages.Message;

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const FIXTURES = join(folderOf(import.meta.url), '..', 'fixtures', 'recorded');
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const ev = (event: object) => event as ClaudeRxEvent;

// A small message for the marble tests, and the snapshots it builds.
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
const M2 = { ...M1, id: 'msg_2', usage: { input_tokens: 4, output_tokens: 1 } };
const E = {
  s: ev({ type: 'message_start', message: M1 }),
  S: ev({ type: 'message_start', message: M2 }),
  b: ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  h: ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } }),
  l: ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } }),
  x: ev({ type: 'content_block_stop', index: 0 }),
  d: ev({
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 5 },
  }),
  z: ev({ type: 'message_stop' }),
  r: ev({ type: 'stream_restart', attempt: 1, delayMs: 10, error: new Error('overloaded') }),
};
const snap = (base: object, content: object[], extra: object = {}) => ({ ...base, content, ...extra });
const DONE = { stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 5 } };
const S = {
  1: snap(M1, []),
  2: snap(M1, [{ type: 'text', text: '' }]),
  3: snap(M1, [{ type: 'text', text: 'Hel' }]),
  4: snap(M1, [{ type: 'text', text: 'Hello' }]),
  5: snap(M1, [{ type: 'text', text: 'Hello' }], DONE),
  6: snap(M2, []),
  7: snap(M2, [{ type: 'text', text: '' }]),
  8: snap(M2, [{ type: 'text', text: 'lo' }]),
};

/**
 * What the SDK's `MessageStream` makes of the next scripted reply: its `finalMessage()` without the non-standard
 * `parsed_output` (or `undefined` when it has none), the message it accumulated, and a copy of its snapshot after
 * each event.
 */
async function sdkAccumulation(): Promise<{ final: unknown; last: unknown; snapshots: unknown[] }> {
  const stream = fake.client.messages.stream(PARAMS);
  const snapshots: unknown[] = [];
  let current: Message | undefined;
  stream.on('streamEvent', (_event, snapshot) => {
    current = snapshot;
    snapshots.push(clone(snapshot));
  });
  try {
    const { parsed_output: _parsed, ...final } = await stream.finalMessage();
    return { final, last: clone(current), snapshots };
  } catch {
    return { final: undefined, last: clone(current), snapshots };
  }
}

/**
 * A deep copy made in the test's own realm. `structuredClone` builds its objects in Node's realm, and jest 29's
 * `toStrictEqual` tells objects of two realms apart by their constructors.
 */
function clone<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => clone(item)) as T;
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) copy[key] = clone(child);
  return copy as T;
}

/** Our snapshots for the next scripted reply, and the error the pipeline ended with, if any. */
function ourAccumulation(): Promise<{ snapshots: Message[]; error: unknown }> {
  return new Promise((resolve) => {
    const snapshots: Message[] = [];
    claudeStream(fake.client, PARAMS)
      .pipe(accumulateMessage())
      .subscribe({
        next: (message) => snapshots.push(message),
        error: (error: unknown) => resolve({ snapshots, error }),
        complete: () => resolve({ snapshots, error: undefined }),
      });
  });
}

/** Paths under `value` to objects that are (`frozen` true) or are not (false) frozen. */
function pathsWhereFrozenIs(frozen: boolean, value: unknown, path = '$'): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const own = Object.isFrozen(value) === frozen ? [path] : [];
  return own.concat(
    ...Object.entries(value).map(([key, child]) => pathsWhereFrozenIs(frozen, child, `${path}.${key}`)),
  );
}

/** A message that stops on a stop sequence and reports a container and server tool use. */
function stopSequenceWithContainer(): ClaudeStreamEvent[] {
  return messageEvents([text('Done ###', { chunkSize: 2 })], {
    stopReason: 'stop_sequence',
    stopSequence: '###',
    container: { id: 'container_1', expires_at: '2030-01-01T00:00:00Z' } as Anthropic.Messages.Container,
    usage: { input_tokens: 5, server_tool_use: { web_search_requests: 2 } as Anthropic.Messages.ServerToolUsage },
  });
}

describe('accumulateMessage', () => {
  describe('marbles', () => {
    it('never emits for a source that never emits', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-', E);
        const subs = '                      ^';
        const expected = '                  -';
        expectObservable(source.pipe(accumulateMessage())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('completes with an empty source', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('|', E);
        const subs = '                      (^!)';
        const expected = '                  |';
        expectObservable(source.pipe(accumulateMessage())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits one snapshot for one message_start', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-s-|', E);
        const subs = '                      ^--!';
        const expected = '                  -1-|';
        expectObservable(source.pipe(accumulateMessage())).toBe(expected, S);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits a snapshot after each event of the message', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('s-b-h-l-x-d-z-|', E);
        const subs = '                      ^-------------!';
        const expected = '                  1-2-3-4-4-5-5-|';
        expectObservable(source.pipe(accumulateMessage())).toBe(expected, S);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('skips the events before message_start', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('b-h-d-s-b-|', E);
        const expected = '                  ------1-2-|';
        expectObservable(source.pipe(accumulateMessage())).toBe(expected, S);
      });
    });

    it('starts a new message at a second message_start', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-b-h-l-x-d-z-S-b-l-|', E);
        const expected = '                  1-2-3-4-4-5-5-6-7-8-|';
        expectObservable(source.pipe(accumulateMessage())).toBe(expected, S);
      });
    });

    it('drops the message at a stream_restart marker and waits for the next message_start', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-b-h-r-l-x-S-b-l-x-|', E);
        const expected = '                  1-2-3-------6-7-8-8-|';
        expectObservable(source.pipe(accumulateMessage())).toBe(expected, S);
      });
    });

    it("passes the source's error through, after the snapshots before it", () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = new Error('connection lost');
        const source = cold<ClaudeRxEvent>('-s-b-h-#', E, error);
        const subs = '                      ^------!';
        const expected = '                  -1-2-3-#';
        expectObservable(source.pipe(accumulateMessage())).toBe(expected, S, error);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('unsubscribes the source when the subscriber unsubscribes early', () => {
      scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<ClaudeRxEvent>('-s-b-h-l-x-d-z-|', E);
        const unsub = '                    ^------!';
        const expected = '                 -1-2-3--';
        expectObservable(source.pipe(accumulateMessage()), unsub).toBe(expected, S);
        expectSubscriptions(source.subscriptions).toBe(unsub);
      });
    });
  });

  describe("equals the SDK's finalMessage() for the same bytes", () => {
    it.each(readdirSync(FIXTURES).filter((file) => file.endsWith('.sse')))('for the recorded %s', async (file) => {
      const body = readFileSync(join(FIXTURES, file));
      fake.server.enqueue(recordedReply(body), recordedReply(body));
      const sdk = await sdkAccumulation();
      const ours = await ourAccumulation();
      const last = ours.snapshots.at(-1);
      expect(last?.id).toMatch(/^msg_/);
      expect(last?.content.length).toBeGreaterThan(0);
      if (sdk.final === undefined) {
        // incomplete_partial_json_response.sse: its last frame, message_stop, lacks the blank line that would dispatch
        // it, so the SDK has no final message; compare with what it accumulated, and expect claudeStream's error.
        expect(file).toBe('incomplete_partial_json_response.sse');
        expect(ours.error).toBeInstanceOf(IncompleteStreamError);
        expect(last).toStrictEqual(sdk.last);
        expect(last?.content[1]).toMatchObject({ type: 'tool_use', input: { filename: 'taxes.txt' } });
      } else {
        expect(ours.error).toBeUndefined();
        expect(last).toStrictEqual(sdk.final);
      }
    });

    it('for a generated stream with every block and delta kind, cut into 7-byte chunks', async () => {
      const events = everyBlockKind();
      fake.server.enqueue(streamReply(events, { chunkBytes: 7 }), streamReply(events, { chunkBytes: 7 }));
      const { final: expected } = await sdkAccumulation();
      const last = (await ourAccumulation()).snapshots.at(-1);
      expect(last).toStrictEqual(expected);
      // and it is the message the events describe, not merely the same as the SDK's
      expect(last?.content.map((block) => block.type)).toEqual([
        'thinking',
        'redacted_thinking',
        'text',
        'text',
        'server_tool_use',
        'web_search_tool_result',
        'tool_use',
      ]);
      expect(last?.content[0]).toEqual({
        type: 'thinking',
        thinking: 'Let me think about the weather in Paris.',
        signature: 'sig_abc',
      });
      expect(last?.content[3]).toEqual({
        type: 'text',
        text: 'sunny',
        citations: [CITATION, { ...CITATION, cited_text: 'sun', end_char_index: 3 }],
      });
      expect(last?.content[4]).toMatchObject({ input: { query: 'paris weather' } });
      expect(last?.content[6]).toEqual({
        type: 'tool_use',
        id: 'toolu_1',
        name: 'get_weather',
        input: { city: 'Paris', days: [1, 2, 3], unit: 'C' },
      });
      expect(last?.stop_reason).toBe('tool_use');
      expect(last?.usage).toMatchObject({ input_tokens: 42, cache_read_input_tokens: 7, output_tokens: 99 });
    });

    it('for a stop sequence, a container and server tool usage', async () => {
      const events = stopSequenceWithContainer();
      fake.server.enqueue(streamReply(events), streamReply(events));
      const { final: expected } = await sdkAccumulation();
      const last = (await ourAccumulation()).snapshots.at(-1);
      expect(last).toStrictEqual(expected);
      expect(last).toMatchObject({
        stop_reason: 'stop_sequence',
        stop_sequence: '###',
        container: { id: 'container_1' },
        usage: { input_tokens: 5, server_tool_use: { web_search_requests: 2 } },
      });
    });

    it("after every event, not only the last: each snapshot equals the SDK's snapshot after the same event", async () => {
      // Without the empty first input_json_delta of each tool block: that case has a test of its own, below.
      const events = everyBlockKind({
        more: [
          toolUse({
            id: 'toolu_2',
            name: 'f',
            input: { city: 'Paris', n: -12.5e3, ok: true, no: null, days: [1, 2], s: 'a\\"b\u00e9' },
            chunkSize: 1,
          }),
        ],
      }).filter(
        (e) =>
          !(e.type === 'content_block_delta' && e.delta.type === 'input_json_delta' && e.delta.partial_json === ''),
      );
      fake.server.enqueue(streamReply(events), streamReply(events));
      const sdk = await sdkAccumulation();
      const ours = await ourAccumulation();
      expect(ours.error).toBeUndefined();
      expect(ours.snapshots).toHaveLength(events.length);
      expect(ours.snapshots).toStrictEqual(sdk.snapshots);
      const inputs = new Set(
        ours.snapshots.map((m) => (m.content[7]?.type === 'tool_use' ? JSON.stringify(m.content[7].input) : '')),
      );
      expect([...inputs].filter((input) => input.includes('days'))).toEqual([
        '{"city":"Paris","n":-12500,"ok":true,"no":null,"days":[]}',
        '{"city":"Paris","n":-12500,"ok":true,"no":null,"days":[1]}',
        '{"city":"Paris","n":-12500,"ok":true,"no":null,"days":[1,2]}',
        '{"city":"Paris","n":-12500,"ok":true,"no":null,"days":[1,2],"s":"a\\\\\\"bé"}',
      ]);
    });

    it('after every event, for fields a newer API adds and blocks that gain a key mid-stream, in the same key order', async () => {
      // Snapshots are copied by literals for the usual shapes (see lib/internal/shape-copier.ts): any other shape,
      // and a block whose keys change (citations or a signature arriving where the start had none), must still be
      // copied whole.
      const wire = (event: object) => event as ClaudeStreamEvent;
      const delta = (index: number, d: object) => wire({ type: 'content_block_delta', index, delta: d });
      const events = [
        wire({
          type: 'message_start',
          message: { ...M1, id: 'msg_new', stop_details: null, future_field: { a: 1 } },
        }),
        wire({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } }),
        delta(0, { type: 'thinking_delta', thinking: 'Hm' }),
        delta(0, { type: 'signature_delta', signature: 'sig' }),
        wire({ type: 'content_block_stop', index: 0 }),
        wire({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }),
        delta(1, { type: 'text_delta', text: 'Per ' }),
        delta(1, { type: 'citations_delta', citation: CITATION }),
        delta(1, { type: 'text_delta', text: 'the docs.' }),
        wire({ type: 'content_block_stop', index: 1 }),
        wire({ type: 'content_block_start', index: 2, content_block: { type: 'text', text: '', glow: 'new' } }),
        delta(2, { type: 'text_delta', text: 'Bye' }),
        wire({ type: 'content_block_stop', index: 2 }),
        wire({
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: 9 },
        }),
        wire({ type: 'message_stop' }),
      ];
      fake.server.enqueue(streamReply(events), streamReply(events));
      const sdk = await sdkAccumulation();
      const ours = await ourAccumulation();
      expect(ours.error).toBeUndefined();
      expect(ours.snapshots).toStrictEqual(sdk.snapshots);
      const keyOrder = (m: unknown) => JSON.stringify(m, (_key, value: unknown) => value ?? null);
      expect(ours.snapshots.map(keyOrder)).toEqual(sdk.snapshots.map(keyOrder));
      expect(ours.snapshots[1]).toMatchObject({ future_field: { a: 1 } });
      expect(ours.snapshots.at(-1)?.content).toEqual([
        { type: 'thinking', thinking: 'Hm', signature: 'sig' },
        { type: 'text', text: 'Per the docs.', citations: [CITATION] },
        { type: 'text', text: 'Bye', glow: 'new' },
      ]);
    });

    // The API's first input_json_delta is always empty, and a tool without parameters sends nothing else: the SDK
    // gives `{}` there (`jsonBuf ? partialParse(jsonBuf) : {}`), and so must we.
    it('for a tool that takes no input: `{}` after its only, empty, input_json_delta and at the end', async () => {
      const noInput: BlockSpec = {
        type: 'tool_use',
        toEvents: (index) =>
          [
            {
              type: 'content_block_start',
              index,
              content_block: { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
            },
            { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } },
            { type: 'content_block_stop', index },
          ] as ClaudeStreamEvent[],
      };
      const events = messageEvents([text('Checking the time.'), noInput]);
      fake.server.enqueue(streamReply(events), streamReply(events));
      const sdk = await sdkAccumulation();
      const ours = await ourAccumulation();
      const toolInputs = ours.snapshots.flatMap((m) => (m.content[1]?.type === 'tool_use' ? [m.content[1].input] : []));
      expect(toolInputs).toEqual([{}, {}, {}, {}, {}]);
      expect(ours.snapshots).toStrictEqual(sdk.snapshots);
      expect(ours.snapshots.at(-1)).toStrictEqual(sdk.final);
    });
  });

  describe('snapshots', () => {
    it('are deeply frozen, never change afterwards, and share the blocks that did not change', () => {
      const events = [...everyBlockKind(), ...stopSequenceWithContainer()];
      const snapshots: Message[] = [];
      const copies: Message[] = [];
      from(events)
        .pipe(accumulateMessage())
        .subscribe((message) => {
          snapshots.push(message);
          copies.push(structuredClone(message));
        });
      expect(snapshots).toHaveLength(events.length);
      for (const snapshot of snapshots) expect(pathsWhereFrozenIs(false, snapshot)).toEqual([]);
      expect(snapshots).toEqual(copies);
      // the events (citations, search results, container...) are left as they were: only copies are frozen
      expect(pathsWhereFrozenIs(true, events)).toEqual([]);
      // each snapshot copies at most the one block that changed
      for (let i = 1; i < snapshots.length; i++) {
        const [before, after] = [snapshots[i - 1]!, snapshots[i]!];
        if (before.id !== after.id) continue;
        const changed = after.content.filter((block, index) => block !== before.content[index]);
        expect(changed.length).toBeLessThanOrEqual(1);
      }
    });

    it("defer the input of a huge open array to its first read; read late, it is still its snapshot's value", () => {
      const input = { ids: Array.from({ length: 3_000 }, (_, i) => i) };
      const events = messageEvents([toolUse({ id: 'toolu_ids', name: 'tag', input, chunkSize: 4 })]);
      const snapshotted = recordParserCalls('snapshot');
      const messages: Message[] = [];
      try {
        from(events)
          .pipe(accumulateMessage())
          .subscribe((message) => messages.push(message));
      } finally {
        snapshotted.restore();
      }
      const taken = snapshotted.calls.length;
      expect(messages.length).toBeGreaterThan(3_000);
      // Taken at once only while the array held few values (64 at most), and once at the block's end.
      expect(taken).toBeGreaterThan(10);
      expect(taken).toBeLessThan(100);
      // Read now, after the stream ended: each is the input as far as its own snapshot's JSON went.
      const inputs = messages.map((message) =>
        message.content[0]?.type === 'tool_use' ? message.content[0].input : 0,
      );
      expect(inputs.at(-1)).toEqual(input);
      const lengths = inputs.map((value) => (value as { ids?: number[] } | undefined)?.ids?.length ?? -1);
      // one number more, at most, per 4-character delta; and never fewer than before
      for (let i = 1; i < lengths.length; i++) expect(lengths[i]! - lengths[i - 1]!).toBeGreaterThanOrEqual(0);
      for (let i = 1; i < lengths.length; i++) expect(lengths[i]! - lengths[i - 1]!).toBeLessThanOrEqual(2);
      expect(new Set(lengths).size).toBeGreaterThan(2_900);
    });

    it('cost linear time: a 1 MB tool input in 16-byte deltas is scanned once, never re-parsed per delta', async () => {
      const input = {
        path: 'notes/big.txt',
        content: 'A line with "quotes", \\ and ünicode 😀\n'.repeat(26_000),
        mode: 420,
      };
      const json = JSON.stringify(input);
      expect(json.length).toBeGreaterThan(1_000_000);
      const events = messageEvents([toolUse({ id: 'toolu_big', name: 'write_file', input, chunkSize: 16 })]);
      const deltas = events.filter((e) => e.type === 'content_block_delta').length;
      expect(deltas).toBeGreaterThan(60_000);

      const pushed = recordParserCalls('push');
      let snapshots = 0;
      let last: Message | undefined;
      try {
        async function* recorded() {
          yield* events;
        }
        last = await lastValueFrom(
          fromStreamEvents(recorded()).pipe(
            accumulateMessage(),
            tap(() => snapshots++),
          ),
        );
      } finally {
        pushed.restore();
      }
      const parsers = new Set(pushed.calls);
      const pushes = pushed.calls.length;
      expect(snapshots).toBe(events.length);
      expect(last?.content[0]).toEqual({ type: 'tool_use', id: 'toolu_big', name: 'write_file', input });
      // one parser, fed each fragment once, which scanned each character once
      expect(pushes).toBe(deltas);
      expect(parsers.size).toBe(1);
      const [parser] = parsers;
      expect(parser!.text.length).toBe(json.length);
      expect(parser!.charsScanned).toBe(json.length);
    });
  });

  describe('against the fake server', () => {
    it('closes the upstream request when unsubscribed mid-stream', async () => {
      fake.server.enqueue(streamReply(textMessage('Hello there, how are you?', { chunkSize: 5 }), { stallAfter: 4 }));
      const seen: Message[] = [];
      const subscription = claudeStream(fake.client, PARAMS)
        .pipe(accumulateMessage())
        .subscribe({ next: (m) => seen.push(m), error: (e: unknown) => seen.push(e as never) });
      // A saturated CI machine (browser and multi-process suites in parallel) can take seconds to send a first request.
      const [request] = await fake.server.waitForRequests(1, 20_000);
      while (seen.length < 4) await sleep(5);
      subscription.unsubscribe();
      await request!.closed;
      expect(request!.closedByClient).toBe(true);
      expect(seen.at(-1)?.content).toEqual([{ type: 'text', text: 'Hello ther' }]);
    }, 40_000);
  });
});
