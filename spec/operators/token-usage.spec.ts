import type Anthropic from '@anthropic-ai/sdk';
import { APIError } from '@anthropic-ai/sdk';
import { config, finalize, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  claudeStream,
  defineTool,
  IncompleteStreamError,
  retryOnRateLimit,
  runTools,
  tokenUsage,
  type ClaudeRxEvent,
  type TokenUsageEnd,
} from 'claude-rx';
import { messageEvents, streamReply, text, textMessage, toolUseMessage } from 'claude-rx/testing';
import { collect, errorOf, PARAMS, sleep, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

type Usage = Anthropic.Messages.Usage;

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const ev = (event: object) => event as ClaudeRxEvent;
const START_USAGE = {
  input_tokens: 30,
  cache_creation_input_tokens: 5,
  cache_read_input_tokens: 100,
  output_tokens: 1,
};
const start = (id: string, usage: object) =>
  ev({
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
  });
const delta = (usage: object) =>
  ev({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage });
const E = {
  s: start('msg_1', START_USAGE),
  S: start('msg_2', { input_tokens: 7, output_tokens: 1 }),
  b: ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  t: ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } }),
  x: ev({ type: 'content_block_stop', index: 0 }),
  d: delta({ output_tokens: 12 }),
  // the whole-message totals the API may repeat in message_delta: they overwrite, never add
  D: delta({ output_tokens: 40, input_tokens: 31, server_tool_use: { web_search_requests: 1 } }),
  z: ev({ type: 'message_stop' }),
  r: ev({ type: 'stream_restart', attempt: 1, delayMs: 10, error: new Error('overloaded') }),
};
const U: Record<string, Usage> = {
  a: START_USAGE as Usage,
  b: { ...START_USAGE, output_tokens: 12 } as Usage,
  c: { ...START_USAGE, output_tokens: 40, input_tokens: 31, server_tool_use: { web_search_requests: 1 } } as Usage,
  n: { input_tokens: 7, output_tokens: 1 } as Usage,
  m: { input_tokens: 7, output_tokens: 12 } as Usage,
};

/** An `onEnd` that records its calls. */
function recorder() {
  const calls: [Usage | undefined, TokenUsageEnd][] = [];
  return { calls, onEnd: (usage: Usage | undefined, end: TokenUsageEnd) => void calls.push([usage, end]) };
}

describe('tokenUsage', () => {
  describe('marbles', () => {
    it('never emits for a source that never emits, and reports no usage when unsubscribed', () => {
      const { calls, onEnd } = recorder();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-', E);
        const unsub = '                     ^---!';
        const expected = '                  -';
        expectObservable(source.pipe(tokenUsage({ onEnd })), unsub).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(unsub);
      });
      expect(calls).toEqual([[undefined, 'unsubscribe']]);
    });

    it('completes with an empty source, reporting no usage', () => {
      const { calls, onEnd } = recorder();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('|', E);
        const subs = '                      (^!)';
        const expected = '                  |';
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
      expect(calls).toEqual([[undefined, 'complete']]);
    });

    it('emits the usage of message_start', () => {
      const { calls, onEnd } = recorder();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-s-|', E);
        const subs = '                      ^--!';
        const expected = '                  -a-|';
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe(expected, U);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
      expect(calls).toEqual([[U.a, 'complete']]);
    });

    it('emits the running usage after message_start and each message_delta, and reports the last at completion', () => {
      const { calls, onEnd } = recorder();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('d-s-b-t-x-d-D-z-|', E);
        const subs = '                      ^---------------!';
        const expected = '                  --a-------b-c---|';
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe(expected, U);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
      expect(calls).toEqual([[U.c, 'complete']]);
    });

    it("with scope 'message', starts a new count at a second message_start and after a stream_restart marker", () => {
      const { calls, onEnd } = recorder();
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-d-S-d-r-d-S-d-|', E);
        const expected = '                  a-b-n-m-----n-m-|';
        expectObservable(source.pipe(tokenUsage({ onEnd, scope: 'message' }))).toBe(expected, U);
      });
      // onEnd always gets the total: the three messages together.
      expect(calls).toEqual([[{ ...START_USAGE, input_tokens: 44, output_tokens: 36 }, 'complete']]);
    });

    it('by default sums every message and every restarted attempt, and onEnd says the total is exact', () => {
      const ends: unknown[] = [];
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-d-S-d-r-d-S-d-|', E);
        const expected = '                  a-b-1-2-----3-4-|';
        const totals = {
          a: U.a,
          b: U.b,
          1: { ...START_USAGE, input_tokens: 37, output_tokens: 13 },
          2: { ...START_USAGE, input_tokens: 37, output_tokens: 24 },
          3: { ...START_USAGE, input_tokens: 44, output_tokens: 25 },
          4: { ...START_USAGE, input_tokens: 44, output_tokens: 36 },
        };
        const onEnd = (...args: unknown[]) => void ends.push(args);
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe(expected, totals);
      });
      expect(ends).toEqual([
        [
          { ...START_USAGE, input_tokens: 44, output_tokens: 36 },
          'complete',
          { lowerBound: false, messages: [U.b, U.m, U.m] },
        ],
      ]);
    });

    it('flags the total as a lower bound when an attempt was restarted before its final message_delta', () => {
      const ends: unknown[] = [];
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-t-r-S-d-|', E);
        const expected = '                  a-----1-2-|';
        const totals = {
          a: U.a,
          1: { ...START_USAGE, input_tokens: 37, output_tokens: 2 },
          2: { ...START_USAGE, input_tokens: 37, output_tokens: 13 },
        };
        const onEnd = (...args: unknown[]) => void ends.push(args);
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe(expected, totals);
      });
      expect(ends).toEqual([
        [
          { ...START_USAGE, input_tokens: 37, output_tokens: 13 },
          'complete',
          { lowerBound: true, messages: [U.a, U.m] },
        ],
      ]);
    });

    it('flags the total as a lower bound when the stream is cut before the final message_delta', () => {
      const ends: unknown[] = [];
      const error = new Error('connection lost');
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('s-t-#', E, error);
        const onEnd = (...args: unknown[]) => void ends.push(args);
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe('a---#', U, error);
      });
      expect(ends).toEqual([[U.a, 'error', { lowerBound: true, messages: [U.a] }]]);
    });

    it('rejects a scope it does not know, naming the option', () => {
      expect(() => tokenUsage({ scope: 'turn' as 'total' })).toThrow(
        new TypeError(`tokenUsage: options.scope must be 'total' or 'message', got "turn"`),
      );
    });

    it("reports the last usage, then passes the source's error through", () => {
      const { calls, onEnd } = recorder();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = new Error('connection lost');
        const source = cold<ClaudeRxEvent>('-s-b-d-t-#', E, error);
        const subs = '                      ^--------!';
        const expected = '                  -a---b---#';
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe(expected, U, error);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
      expect(calls).toEqual([[U.b, 'error']]);
    });

    it('reports the last usage when the subscriber unsubscribes early, after unsubscribing the source', () => {
      const log: string[] = [];
      const onEnd = (usage: Usage | undefined, end: TokenUsageEnd) => log.push(`onEnd ${end} ${usage?.output_tokens}`);
      scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<ClaudeRxEvent>('-s-b-d-t-z-|', E);
        const unsub = '                    ^--------!';
        const expected = '                 -a---b----';
        const watched = source.pipe(finalize(() => log.push('source unsubscribed')));
        expectObservable(watched.pipe(tokenUsage({ onEnd })), unsub).toBe(expected, U);
        expectSubscriptions(source.subscriptions).toBe(unsub);
      });
      expect(log).toEqual(['source unsubscribed', 'onEnd unsubscribe 12']);
    });

    it('turns an exception of onEnd at completion into the error', () => {
      const thrown = new Error('billing is down');
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('-s-d-|', E);
        const expected = '                  -a-b-#';
        const onEnd = () => {
          throw thrown;
        };
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe(expected, U, thrown);
      });
    });

    it("turns an exception of onEnd on error into the error, in place of the source's", () => {
      const thrown = new Error('billing is down');
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('-s-#', E, new Error('connection lost'));
        const expected = '                  -a-#';
        const onEnd = () => {
          throw thrown;
        };
        expectObservable(source.pipe(tokenUsage({ onEnd }))).toBe(expected, U, thrown);
      });
    });

    it('emits without onEnd', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold<ClaudeRxEvent>('-s-d-|', E);
        const expected = '                  -a-b-|';
        expectObservable(source.pipe(tokenUsage())).toBe(expected, U);
      });
    });
  });

  it('reports an exception of onEnd after an unsubscribe to RxJS config.onUnhandledError, asynchronously', async () => {
    const unhandled: unknown[] = [];
    const previous = config.onUnhandledError;
    config.onUnhandledError = (error) => unhandled.push(error);
    try {
      const thrown = new Error('billing is down');
      const source = new Subject<ClaudeRxEvent>();
      const subscription = source
        .pipe(
          tokenUsage({
            onEnd: () => {
              throw thrown;
            },
          }),
        )
        .subscribe({ error: () => unhandled.push('delivered to error') });
      source.next(E.s);
      expect(() => subscription.unsubscribe()).not.toThrow();
      expect(unhandled).toEqual([]);
      await sleep(10);
      expect(unhandled).toEqual([thrown]);
    } finally {
      config.onUnhandledError = previous;
    }
  });

  it('keeps a falsy exception of onEnd an error', () => {
    const outcome: unknown[] = [];
    const source = new Subject<ClaudeRxEvent>();
    source
      .pipe(
        tokenUsage({
          onEnd: () => {
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- a falsy exception is the case under test
            throw 0;
          },
        }),
      )
      .subscribe({
        error: (error: unknown) => outcome.push(['error', error]),
        complete: () => outcome.push('complete'),
      });
    source.next(E.s);
    source.complete();
    expect(outcome).toEqual([['error', 0]]);
  });

  it('calls onEnd once', () => {
    const { calls, onEnd } = recorder();
    const source = new Subject<ClaudeRxEvent>();
    const subscription = source.pipe(tokenUsage({ onEnd })).subscribe();
    source.next(E.s);
    source.complete();
    subscription.unsubscribe();
    expect(calls).toEqual([[U.a, 'complete']]);
  });

  it('emits frozen usage, never changed afterwards', () => {
    const seen: Usage[] = [];
    const source = new Subject<ClaudeRxEvent>();
    source.pipe(tokenUsage()).subscribe((usage) => seen.push(usage));
    source.next(E.s);
    source.next(E.d);
    source.next(E.D);
    expect(seen.every((usage) => Object.isFrozen(usage))).toBe(true);
    expect(seen).toEqual([U.a, U.b, U.c]);
  });

  it('validates onEnd when created, naming the option', () => {
    expect(() => tokenUsage({ onEnd: 'log' as never })).toThrow(TypeError);
    expect(() => tokenUsage({ onEnd: 'log' as never })).toThrow(/onEnd/);
  });

  describe('against the fake server, with the real SDK', () => {
    it("ends with the usage of the SDK's final message, and reports it at completion", async () => {
      const events = messageEvents([text('Hello there, general Kenobi.')], {
        usage: { input_tokens: 25, cache_creation_input_tokens: 3, cache_read_input_tokens: 9, output_tokens: 17 },
      });
      fake.server.enqueue(streamReply(events), streamReply(events));
      const sdk = await fake.client.messages.stream(PARAMS).finalMessage();
      const { calls, onEnd } = recorder();
      const usages = await collect(claudeStream(fake.client, PARAMS).pipe(tokenUsage({ onEnd })));
      expect(usages.at(-1)).toStrictEqual(sdk.usage);
      expect(usages.map((usage) => usage.output_tokens)).toEqual([1, 17]);
      expect(calls).toEqual([[sdk.usage, 'complete']]);
    });

    it('reports the usage so far when the pipeline unsubscribes, and the upstream request is closed', async () => {
      fake.server.enqueue(
        streamReply(textMessage('A long answer', { usage: { input_tokens: 77 } }), { stallAfter: 3 }),
      );
      const { calls, onEnd } = recorder();
      const seen: Usage[] = [];
      const outcome: unknown[] = [];
      const subscription = claudeStream(fake.client, PARAMS)
        .pipe(tokenUsage({ onEnd }))
        .subscribe({
          next: (usage) => seen.push(usage),
          error: (error: unknown) => outcome.push(error),
          complete: () => outcome.push('complete'),
        });
      const [request] = await fake.server.waitForRequests(1);
      while (seen.length < 1) await sleep(5);
      subscription.unsubscribe();
      expect(calls).toEqual([[expect.objectContaining({ input_tokens: 77, output_tokens: 1 }), 'unsubscribe']]);
      await request!.closed;
      expect(request!.closedByClient).toBe(true);
      await sleep(20);
      expect(outcome).toEqual([]);
    });

    it('reports the usage so far when the stream fails mid-body, then the error', async () => {
      const events = messageEvents([text('Hello there, general Kenobi.')], { usage: { input_tokens: 12 } });
      fake.server.enqueue(
        streamReply(events, { errorAfter: { events: 4, error: { type: 'overloaded_error', message: 'Overloaded' } } }),
        streamReply(events, { resetAfter: 4 }),
      );
      const overloaded = recorder();
      const error = await errorOf(claudeStream(fake.client, PARAMS).pipe(tokenUsage({ onEnd: overloaded.onEnd })));
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).type).toBe('overloaded_error');
      expect(overloaded.calls).toEqual([[expect.objectContaining({ input_tokens: 12, output_tokens: 1 }), 'error']]);

      const reset = recorder();
      const incomplete = await errorOf(claudeStream(fake.client, PARAMS).pipe(tokenUsage({ onEnd: reset.onEnd })));
      expect(incomplete).toBeInstanceOf(IncompleteStreamError);
      expect(reset.calls).toEqual([[expect.objectContaining({ input_tokens: 12, output_tokens: 1 }), 'error']]);
    });

    it('over runTools, onEnd reports every turn (what was billed), not only the last', async () => {
      fake.server.enqueue(
        streamReply(toolUseMessage('get_time', {}, { usage: { input_tokens: 100, output_tokens: 20 } })),
        streamReply(textMessage('It is noon.', { usage: { input_tokens: 130, output_tokens: 5 } })),
      );
      const ends: unknown[] = [];
      const getTime = defineTool({
        name: 'get_time',
        description: 'The time.',
        inputSchema: { type: 'object', properties: {} },
        run: () => 'noon',
      });
      const totals = await collect(
        runTools(fake.client, PARAMS, { tools: [getTime] }).pipe(
          tokenUsage({ onEnd: (...args: unknown[]) => void ends.push(args) }),
        ),
      );
      expect(totals.at(-1)).toEqual(expect.objectContaining({ input_tokens: 230, output_tokens: 25 }));
      expect(ends).toEqual([
        [
          expect.objectContaining({ input_tokens: 230, output_tokens: 25 }),
          'complete',
          {
            lowerBound: false,
            messages: [
              expect.objectContaining({ input_tokens: 100, output_tokens: 20 }),
              expect.objectContaining({ input_tokens: 130, output_tokens: 5 }),
            ],
          },
        ],
      ]);
    });

    it('keeps the tokens of an attempt that retryOnRateLimit restarted, flagged as a lower bound', async () => {
      const first = messageEvents([text('Hello there, general Kenobi.')], { usage: { input_tokens: 12 } });
      fake.server.enqueue(
        streamReply(first, { errorAfter: { events: 4, error: { type: 'overloaded_error', message: 'Overloaded' } } }),
        streamReply(textMessage('Hi.', { usage: { input_tokens: 12, output_tokens: 3 } })),
      );
      const ends: unknown[] = [];
      await collect(
        claudeStream(fake.client, PARAMS).pipe(
          retryOnRateLimit({ restartAfterContent: true, baseDelayMs: 1, jitter: 'none' }),
          tokenUsage({ onEnd: (...args: unknown[]) => void ends.push(args) }),
        ),
      );
      expect(fake.server.requests).toHaveLength(2);
      expect(ends).toEqual([
        [
          expect.objectContaining({ input_tokens: 24, output_tokens: 4 }),
          'complete',
          expect.objectContaining({ lowerBound: true }),
        ],
      ]);
    });
  });
});
