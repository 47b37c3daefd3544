import type Anthropic from '@anthropic-ai/sdk';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  claudeStream,
  fromStreamEvents,
  ToolInputParseError,
  toolInputs,
  type ClaudeRxEvent,
  type ClaudeStreamEvent,
  type ToolInput,
} from 'claude-rx';
import {
  messageEvents,
  recordedReply,
  serverToolUse,
  streamReply,
  text,
  toolUse,
  webSearchToolResult,
  type BlockSpec,
} from 'claude-rx/testing';
import { IncrementalJsonSyntaxError } from '../../lib/internal/incremental-json.js';
import { collect, errorOf, PARAMS, trackUnhandledRejections, useFakeClaude, folderOf } from '../support/harness.js';
import { recordParserCalls } from '../support/parser-calls.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const FIXTURES = join(folderOf(import.meta.url), '..', 'fixtures', 'recorded');

/** Errors compared by class, message, cause and own fields: plain toEqual compares only the message. */
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
  return { ...error, class: error.constructor.name, message: error.message, cause: describeError(error.cause) };
}
const scheduler = () =>
  new TestScheduler((actual, expected) => expect(comparable(actual)).toEqual(comparable(expected)));

const ev = (event: object) => event as ClaudeRxEvent;
const json = (index: number, partial_json: string) =>
  ev({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
const E = {
  s: ev({
    type: 'message_start',
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 1 },
    },
  }),
  T: ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  X: ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '{"not": "a tool"}' } }),
  Y: ev({ type: 'content_block_stop', index: 0 }),
  t: ev({
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} },
  }),
  e: json(1, ''),
  a: json(1, '{"city": "Pa'),
  b: json(1, 'ris", "days": [1, 2'),
  c: json(1, ']}'),
  m: json(1, 'ris", days: [1]}'),
  x: ev({ type: 'content_block_stop', index: 1 }),
  v: ev({
    type: 'content_block_start',
    index: 2,
    content_block: { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} },
  }),
  q: json(2, '{"query": "rxjs"}'),
  y: ev({ type: 'content_block_stop', index: 2 }),
  n: ev({
    type: 'content_block_start',
    index: 3,
    content_block: { type: 'server_tool_use', id: 'srvtoolu_2', name: 'web_fetch', input: { url: 'https://rxjs.dev' } },
  }),
  N: ev({ type: 'content_block_stop', index: 3 }),
  d: ev({
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { output_tokens: 9 },
  }),
  z: ev({ type: 'message_stop' }),
  r: ev({ type: 'stream_restart', attempt: 1, delayMs: 10, error: new Error('overloaded') }),
};
const TOOL = { index: 1, id: 'toolu_1', name: 'get_weather', blockType: 'tool_use' } as const;
const SERVER = { index: 2, id: 'srvtoolu_1', name: 'web_search', blockType: 'server_tool_use' } as const;
const FETCH = { index: 3, id: 'srvtoolu_2', name: 'web_fetch', blockType: 'server_tool_use' } as const;
const V: Record<string, ToolInput> = {
  0: { ...TOOL, done: false, json: '', partial: undefined },
  1: { ...TOOL, done: false, json: '{"city": "Pa', partial: { city: 'Pa' } },
  2: { ...TOOL, done: false, json: '{"city": "Paris", "days": [1, 2', partial: { city: 'Paris', days: [1] } },
  3: { ...TOOL, done: false, json: '{"city": "Paris", "days": [1, 2]}', partial: { city: 'Paris', days: [1, 2] } },
  4: { ...TOOL, done: true, json: '{"city": "Paris", "days": [1, 2]}', input: { city: 'Paris', days: [1, 2] } },
  5: { ...SERVER, done: false, json: '{"query": "rxjs"}', partial: { query: 'rxjs' } },
  6: { ...SERVER, done: true, json: '{"query": "rxjs"}', input: { query: 'rxjs' } },
  7: { ...FETCH, done: true, json: '{"url":"https://rxjs.dev"}', input: { url: 'https://rxjs.dev' } },
};
const parseError = (text: string, offset: number, message: string) =>
  new ToolInputParseError(1, 'toolu_1', 'get_weather', text, {
    cause: new IncrementalJsonSyntaxError(message, offset),
  });

/** Paths under `value` to objects that are not frozen. */
function unfrozenPaths(value: unknown, path = '$'): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const own = Object.isFrozen(value) ? [] : [path];
  return own.concat(...Object.entries(value).map(([key, child]) => unfrozenPaths(child, `${path}.${key}`)));
}

describe('toolInputs', () => {
  describe('marbles', () => {
    it('never emits for a source that never emits', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-', E);
        const subs = '                      ^';
        const expected = '                  -';
        expectObservable(source.pipe(toolInputs())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('completes with an empty source', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('|', E);
        const subs = '                      (^!)';
        const expected = '                  |';
        expectObservable(source.pipe(toolInputs())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits the progress of one input_json_delta', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-t-a-|', E);
        const subs = '                      ^----!';
        const expected = '                  ---1-|';
        expectObservable(source.pipe(toolInputs())).toBe(expected, V);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('follows tool_use and server_tool_use inputs, delta by delta, then the parsed input at block stop', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('s-T-X-Y-t-e-a-b-c-x-v-q-y-n-N-d-z-|', E);
        const subs = '                      ^---------------------------------!';
        const expected = '                  ----------0-1-2-3-4---5-6---7-----|';
        expectObservable(source.pipe(toolInputs())).toBe(expected, V);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('errors with ToolInputParseError naming the block at the first character that cannot be JSON', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('s-t-a-m-c-x-|', E);
        const subs = '                      ^-----!';
        const expected = '                  ----1-#';
        const error = parseError('{"city": "Paris", days: [1]}', 18, 'Unexpected character "d"');
        expectObservable(source.pipe(toolInputs())).toBe(expected, V, error);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('errors with ToolInputParseError when a block stops with its JSON incomplete', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('s-t-a-b-x-|', E);
        const subs = '                      ^-------!';
        const expected = '                  ----1-2-#';
        const error = parseError('{"city": "Paris", "days": [1, 2', 31, 'Unexpected end of JSON input');
        expectObservable(source.pipe(toolInputs())).toBe(expected, V, error);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('drops a block whose input was cut by a stream_restart marker or a new message_start', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-t-a-r-b-x-s-t-a-s-c-x-s-t-a-b-c-x-|', E);
        const expected = '                  ----1-----------1-----------1-2-3-4-|';
        expectObservable(source.pipe(toolInputs())).toBe(expected, V);
      });
    });

    it('emits no complete input for a block that never stops (cut by max_tokens)', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-t-a-b-d-z-|', E);
        const expected = '                  ----1-2-----|';
        expectObservable(source.pipe(toolInputs())).toBe(expected, V);
      });
    });

    it("passes the source's error through", () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = new Error('connection lost');
        const source = cold<ClaudeRxEvent>('-t-a-#', E, error);
        const subs = '                      ^----!';
        const expected = '                  ---1-#';
        expectObservable(source.pipe(toolInputs())).toBe(expected, V, error);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('unsubscribes the source when the subscriber unsubscribes early', () => {
      scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<ClaudeRxEvent>('-s-t-a-b-c-x-z-|', E);
        const unsub = '                    ^------!';
        const expected = '                 -----1--';
        expectObservable(source.pipe(toolInputs()), unsub).toBe(expected, V);
        expectSubscriptions(source.subscriptions).toBe(unsub);
      });
    });
  });

  it('emits frozen values, never changed afterwards', () => {
    const seen: ToolInput[] = [];
    const copies: ToolInput[] = [];
    from([E.s, E.t, E.e, E.a, E.b, E.c, E.x, E.n, E.N])
      .pipe(toolInputs())
      .subscribe((input) => {
        seen.push(input);
        copies.push(structuredClone(input));
      });
    expect(seen).toHaveLength(6);
    for (const input of seen) expect(unfrozenPaths(input.done ? input.input : input.partial)).toEqual([]);
    expect(seen).toEqual(copies);
  });

  describe('against the fake server, with the real SDK', () => {
    it("follows the recorded tool_use_response.sse, ending with the SDK's parsed input", async () => {
      const body = readFileSync(join(FIXTURES, 'tool_use_response.sse'));
      fake.server.enqueue(recordedReply(body), recordedReply(body));
      const sdk = await fake.client.messages.stream(PARAMS).finalMessage();
      const inputs = await collect(claudeStream(fake.client, PARAMS).pipe(toolInputs()));
      const block = { index: 1, id: 'toolu_01NRLabsLyVHZPKxbKvkfSMn', name: 'get_weather', blockType: 'tool_use' };
      expect(inputs).toEqual([
        { ...block, done: false, json: '', partial: undefined },
        { ...block, done: false, json: '{"locati', partial: {} },
        { ...block, done: false, json: '{"location": "P', partial: { location: 'P' } },
        { ...block, done: false, json: '{"location": "Par', partial: { location: 'Par' } },
        { ...block, done: false, json: '{"location": "Paris"}', partial: { location: 'Paris' } },
        { ...block, done: true, json: '{"location": "Paris"}', input: { location: 'Paris' } },
      ]);
      expect(inputs.at(-1)).toMatchObject({ input: (sdk.content[1] as Anthropic.Messages.ToolUseBlock).input });
    });

    it("ends every tool block with the SDK's input: client tools, server tools, a tool without input", async () => {
      const noInput: BlockSpec = {
        type: 'tool_use',
        toEvents: (index) =>
          [
            {
              type: 'content_block_start',
              index,
              content_block: { type: 'tool_use', id: 'toolu_3', name: 'now', input: {} },
            },
            { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } },
            { type: 'content_block_stop', index },
          ] as ClaudeStreamEvent[],
      };
      const events = messageEvents([
        text('Let me look.'),
        serverToolUse({ id: 'srvtoolu_1', name: 'web_search', input: { query: 'paris "weather"', n: [1, 2.5e-3] } }),
        webSearchToolResult({ toolUseId: 'srvtoolu_1', content: [] }),
        toolUse({
          id: 'toolu_1',
          name: 'get_weather',
          input: { city: 'Paris', unit: 'C', nested: { deep: [true, null] } },
          chunkSize: 3,
        }),
        noInput,
      ]);
      fake.server.enqueue(streamReply(events, { chunkBytes: 9 }), streamReply(events, { chunkBytes: 9 }));
      const sdk = await fake.client.messages.stream(PARAMS).finalMessage();
      const done = (await collect(claudeStream(fake.client, PARAMS).pipe(toolInputs()))).filter((input) => input.done);
      const sdkTools = sdk.content.flatMap((block) =>
        block.type === 'tool_use' || block.type === 'server_tool_use' ? [{ id: block.id, input: block.input }] : [],
      );
      expect(done.map(({ id, input }) => ({ id, input }))).toEqual(sdkTools);
      expect(done.map((input) => input.id)).toEqual(['srvtoolu_1', 'toolu_1', 'toolu_3']);
      expect(done.map((input) => input.blockType)).toEqual(['server_tool_use', 'tool_use', 'tool_use']);
    });

    it('fails with ToolInputParseError on malformed JSON over the wire, and closes the upstream request', async () => {
      const malformed: BlockSpec = {
        type: 'tool_use',
        toEvents: (index) =>
          [
            {
              type: 'content_block_start',
              index,
              content_block: { type: 'tool_use', id: 'toolu_bad', name: 'f', input: {} },
            },
            { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '{"a": 1,' } },
            { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: ' }' } },
            { type: 'content_block_stop', index },
          ] as ClaudeStreamEvent[],
      };
      fake.server.enqueue(streamReply(messageEvents([text('Hi'), malformed]), { stallAfter: 8 }));
      const error = await errorOf(claudeStream(fake.client, PARAMS).pipe(toolInputs()));
      expect(error).toBeInstanceOf(ToolInputParseError);
      expect(error).toMatchObject({ index: 1, toolUseId: 'toolu_bad', toolName: 'f', json: '{"a": 1, }' });
      expect((error as ToolInputParseError).cause).toBeInstanceOf(IncrementalJsonSyntaxError);
      expect((error as ToolInputParseError).cause).toMatchObject({ offset: 9 });
      const request = fake.server.requests[0]!;
      await request.closed;
      expect(request.closedByClient).toBe(true);
    });
  });

  it("defers the partial of a huge open array to its first read; read late, it is still its emission's value", () => {
    const input = { ids: Array.from({ length: 3_000 }, (_, i) => i) };
    const events = messageEvents([toolUse({ id: 'toolu_ids', name: 'tag', input, chunkSize: 4 })]);
    const snapshotted = recordParserCalls('snapshot');
    const progress: ToolInput[] = [];
    try {
      from(events)
        .pipe(toolInputs())
        .subscribe((value) => {
          if (!value.done) progress.push(value);
        });
    } finally {
      snapshotted.restore();
    }
    const snapshots = snapshotted.calls.length;
    expect(progress.length).toBeGreaterThan(3_000);
    // Taken at once only while the array held few values (64 at most): about the first 60 deltas.
    expect(snapshots).toBeGreaterThan(10);
    expect(snapshots).toBeLessThan(100);
    // Read now, after the stream ended: each is the value of the JSON its own emission carried.
    const sampled = progress.filter((_, i) => i % 97 === 0 || i === progress.length - 1);
    for (const value of sampled) expect(value.done ? undefined : value.partial).toEqual(numbersSoFar(value.json));
  });

  it('costs linear time: a 1 MB input in 16-byte deltas is scanned once, never re-parsed per delta', async () => {
    const input = {
      path: 'notes/big.txt',
      content: 'A line with "quotes", \\ and ünicode 😀\n'.repeat(26_000),
      mode: 420,
    };
    const text = JSON.stringify(input);
    expect(text.length).toBeGreaterThan(1_000_000);
    const events = messageEvents([toolUse({ id: 'toolu_big', name: 'write_file', input, chunkSize: 16 })]);
    const deltas = events.filter((e) => e.type === 'content_block_delta').length;
    expect(deltas).toBeGreaterThan(60_000);

    const pushed = recordParserCalls('push');
    let progress = 0;
    let last: ToolInput | undefined;
    try {
      async function* recorded() {
        yield* events;
      }
      last = await lastValueFrom(
        fromStreamEvents(recorded()).pipe(
          toolInputs(),
          tap((value) => (progress += value.done ? 0 : 1)),
        ),
      );
    } finally {
      pushed.restore();
    }
    const parsers = new Set(pushed.calls);
    const pushes = pushed.calls.length;
    expect(progress).toBe(deltas);
    expect(last).toMatchObject({ done: true, id: 'toolu_big', input });
    expect(pushes).toBe(deltas);
    expect([...parsers].map((parser) => parser.charsScanned)).toEqual([text.length]);
  });
});

/** The best effort for a prefix of `{"ids":[0,1,...]}`: the numbers a comma or the bracket has ended. */
function numbersSoFar(json: string): unknown {
  const open = json.indexOf('[');
  if (open < 0) return json.length > 1 ? {} : undefined;
  const body = json.slice(open + 1);
  const end = body.includes(']') ? body.indexOf(']') : body.lastIndexOf(',');
  return { ids: end < 0 ? [] : (JSON.parse(`[${body.slice(0, end)}]`) as number[]) };
}
