import type Anthropic from '@anthropic-ai/sdk';
import { APIError } from '@anthropic-ai/sdk';
import { config, from, Subject, take, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  claudeStream,
  defineTool,
  onFinish,
  retryOnRateLimit,
  runTools,
  type ClaudeRxEvent,
  type StreamFinish,
} from 'claude-rx';
import { messageEvents, streamReply, text, textMessage, toolUseMessage } from 'claude-rx/testing';
import { collect, errorOf, PARAMS, sleep, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

// onFinish: once per subscription, however the stream ends, the last message (whole or partial) and the usage summed
// over every message. The real SDK against the fake server for the streams of claudeStream, runTools and
// retryOnRateLimit; plain Subjects and arrays for the orderings a server cannot script (re-entrancy, throws).

type Message = Anthropic.Messages.Message;

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const ANSWER = 'The quick brown fox jumps over the lazy dog, twice.';
const OVERLOADED = { type: 'overloaded_error', message: 'Overloaded' };

/** A callback that records every call. */
function recorder() {
  const calls: StreamFinish[] = [];
  return { calls, callback: (finish: StreamFinish) => void calls.push(finish) };
}

/** The text of a message's text blocks. */
function textOf(message: Message | undefined): string {
  return (message?.content ?? []).map((block) => (block.type === 'text' ? block.text : '')).join('');
}

/** Polls `condition` every 5 ms; fails naming `what` after 5 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 5 s`);
    await sleep(5);
  }
}

/** The SDK's own `finalMessage()` for `events` (the reference), without its non-standard `parsed_output`. */
async function sdkMessageOf(events: ReturnType<typeof messageEvents>): Promise<Message> {
  fake.server.enqueue(streamReply(events));
  const { parsed_output: _parsed, ...message } = await fake.client.messages.stream(PARAMS).finalMessage();
  fake.server.reset();
  return message;
}

const events = (list: readonly object[]) => list as ClaudeRxEvent[];

describe('onFinish', () => {
  it('throws a TypeError naming the callback when it is not a function', () => {
    expect(() => onFinish(undefined as never)).toThrow(TypeError);
    expect(() => onFinish('save' as never)).toThrow(/callback/);
  });

  describe('against the fake server, with the real SDK', () => {
    it('on complete: the whole message as the SDK builds it, its usage, exact; once, before complete', async () => {
      const scripted = messageEvents([text(ANSWER, { chunkSize: 5 })], {
        id: 'msg_whole',
        usage: { input_tokens: 25, cache_read_input_tokens: 9, output_tokens: 17 },
      });
      const sdk = await sdkMessageOf(scripted);
      fake.server.enqueue(streamReply(scripted));
      const order: string[] = [];
      const { calls, callback } = recorder();

      const seen = await collect(
        claudeStream(fake.client, PARAMS).pipe(
          onFinish((finish) => {
            order.push('callback');
            callback(finish);
          }),
          tap({ complete: () => order.push('complete') }),
        ),
      );

      expect(calls).toHaveLength(1);
      const [finish] = calls;
      expect(finish).toEqual({ end: 'complete', message: sdk, usage: sdk.usage, lowerBound: false });
      expect(finish).not.toHaveProperty('error');
      expect(finish!.message).toMatchObject({ id: 'msg_whole', stop_reason: 'end_turn' });
      expect(finish!.usage).toMatchObject({ input_tokens: 25, cache_read_input_tokens: 9, output_tokens: 17 });
      expect(Object.isFrozen(finish!.usage)).toBe(true);
      expect(order).toEqual(['callback', 'complete']);
      expect(seen.map((event) => event.type)).toEqual(scripted.map((event) => event.type));
      expect(fake.server.requests).toHaveLength(1);
    });

    it('on a mid-stream error: the partial message, its usage so far as a lower bound, and the error', async () => {
      const scripted = textMessage(ANSWER, { chunkSize: 5, usage: { input_tokens: 12 } });
      // message_start, content_block_start, then three deltas: the error comes in the middle of the text.
      fake.server.enqueue(streamReply(scripted, { errorAfter: { events: 5, error: OVERLOADED } }));
      const { calls, callback } = recorder();

      const error = await errorOf(claudeStream(fake.client, PARAMS).pipe(onFinish(callback)));

      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).type).toBe('overloaded_error');
      expect(calls).toEqual([
        {
          end: 'error',
          error,
          message: expect.objectContaining({ stop_reason: null }) as unknown,
          usage: expect.objectContaining({ input_tokens: 12, output_tokens: 1 }) as unknown,
          lowerBound: true,
        },
      ]);
      expect(textOf(calls[0]!.message)).toBe(ANSWER.slice(0, 15));
    });

    it('on unsubscribe mid-stream: the partial message, at once, and the upstream request is aborted', async () => {
      fake.server.enqueue(
        streamReply(textMessage(ANSWER, { chunkSize: 5, usage: { input_tokens: 77 } }), { stallAfter: 4 }),
      );
      const { calls, callback } = recorder();
      const seen: ClaudeRxEvent[] = [];
      const outcome: unknown[] = [];
      const subscription = claudeStream(fake.client, PARAMS)
        .pipe(onFinish(callback))
        .subscribe({
          next: (event) => seen.push(event),
          error: (error: unknown) => outcome.push(error),
          complete: () => outcome.push('complete'),
        });
      const [request] = await fake.server.waitForRequests(1);
      await until(() => seen.length === 4, 'four events');
      expect(calls).toEqual([]);

      subscription.unsubscribe();

      expect(calls).toEqual([
        {
          end: 'unsubscribe',
          message: expect.objectContaining({ stop_reason: null }) as unknown,
          usage: expect.objectContaining({ input_tokens: 77, output_tokens: 1 }) as unknown,
          lowerBound: true,
        },
      ]);
      expect(textOf(calls[0]!.message)).toBe(ANSWER.slice(0, 10));
      await request!.closed;
      expect(request!.closedByClient).toBe(true);
      await sleep(20);
      expect(outcome).toEqual([]);
      expect(calls).toHaveLength(1);
    });

    it('unsubscribed inside next (re-entrant): called once, with the message up to that event', async () => {
      fake.server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 5 }), { delayMs: 2 }));
      const { calls, callback } = recorder();
      let count = 0;
      const subscription = claudeStream(fake.client, PARAMS)
        .pipe(onFinish(callback))
        .subscribe({
          next: () => {
            if (++count === 4) subscription.unsubscribe();
          },
        });
      const [request] = await fake.server.waitForRequests(1);
      await request!.closed;
      await sleep(20);

      expect(count).toBe(4);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ end: 'unsubscribe', lowerBound: true });
      expect(textOf(calls[0]!.message)).toBe(ANSWER.slice(0, 10));
      expect(request!.closedByClient).toBe(true);
    });

    it("over runTools: the last turn's message, and the usage of both turns summed", async () => {
      fake.server.enqueue(
        streamReply(
          toolUseMessage('get_time', {}, { id: 'msg_turn_1', usage: { input_tokens: 100, output_tokens: 20 } }),
        ),
        streamReply(textMessage('It is noon.', { id: 'msg_turn_2', usage: { input_tokens: 130, output_tokens: 5 } })),
      );
      const getTime = defineTool({
        name: 'get_time',
        description: 'The time.',
        inputSchema: { type: 'object', properties: {} },
        run: () => 'noon',
      });
      const { calls, callback } = recorder();

      const seen = await collect(runTools(fake.client, PARAMS, { tools: [getTime] }).pipe(onFinish(callback)));

      expect(fake.server.requests).toHaveLength(2);
      expect(seen.some((event) => event.type === 'tool_result')).toBe(true);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({
        end: 'complete',
        message: { id: 'msg_turn_2', stop_reason: 'end_turn' },
        usage: { input_tokens: 230, output_tokens: 25 },
        lowerBound: false,
      });
      expect(textOf(calls[0]!.message)).toBe('It is noon.');
    });

    it("over a retryOnRateLimit restart: the usage of both attempts summed, the last attempt's message", async () => {
      const first = textMessage(ANSWER, { id: 'msg_attempt_1', chunkSize: 5, usage: { input_tokens: 12 } });
      fake.server.enqueue(
        streamReply(first, { errorAfter: { events: 4, error: OVERLOADED } }),
        streamReply(textMessage('Hi.', { id: 'msg_attempt_2', usage: { input_tokens: 12, output_tokens: 3 } })),
      );
      const { calls, callback } = recorder();

      const seen = await collect(
        claudeStream(fake.client, PARAMS).pipe(
          retryOnRateLimit({ restartAfterContent: true, baseDelayMs: 1, jitter: 'none' }),
          onFinish(callback),
        ),
      );

      expect(fake.server.requests).toHaveLength(2);
      expect(seen.filter((event) => event.type === 'stream_restart')).toHaveLength(1);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({
        end: 'complete',
        message: { id: 'msg_attempt_2', stop_reason: 'end_turn' },
        // 12 + 12 in; the cut attempt's 1 (from message_start) + 3 out.
        usage: { input_tokens: 24, output_tokens: 4 },
        // The first attempt was cut before its final usage: what was billed is at least this.
        lowerBound: true,
      });
      expect(textOf(calls[0]!.message)).toBe('Hi.');
    });
  });

  describe('ordering and re-entrancy', () => {
    const scripted = events(textMessage('Hello there', { chunkSize: 2, id: 'msg_sync' }));

    it('passes every event through unchanged, and calls back once at the end', () => {
      const { calls, callback } = recorder();
      new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(
        ({ cold, expectObservable, expectSubscriptions }) => {
          const values = { a: scripted[0]!, b: scripted[1]!, c: scripted[2]! };
          const source = cold<ClaudeRxEvent>('-a-b-c-|', values);
          expectObservable(source.pipe(onFinish(callback))).toBe('-a-b-c-|', values);
          expectSubscriptions(source.subscriptions).toBe('^------!');
        },
      );
      expect(calls).toEqual([
        {
          end: 'complete',
          message: expect.objectContaining({ id: 'msg_sync' }) as unknown,
          usage: expect.anything() as unknown,
          lowerBound: true,
        },
      ]);
    });

    it('unsubscribes its source when its subscriber leaves early', () => {
      new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(
        ({ cold, expectObservable, expectSubscriptions }) => {
          const values = { a: scripted[0]!, b: scripted[1]!, c: scripted[2]! };
          const source = cold<ClaudeRxEvent>('-a-b-c-|', values);
          expectObservable(source.pipe(onFinish(() => undefined)), '^--!').toBe('-a-', values);
          expectSubscriptions(source.subscriptions).toBe('^--!');
        },
      );
    });

    it('a source that never emits, unsubscribed: no message, no usage, not a lower bound', () => {
      const { calls, callback } = recorder();
      const subscription = new Subject<ClaudeRxEvent>().pipe(onFinish(callback)).subscribe();
      subscription.unsubscribe();
      expect(calls).toEqual([{ end: 'unsubscribe', message: undefined, usage: undefined, lowerBound: false }]);
    });

    it('an empty source: complete with no message and no usage', async () => {
      const { calls, callback } = recorder();
      await collect(from(events([])).pipe(onFinish(callback)));
      expect(calls).toEqual([{ end: 'complete', message: undefined, usage: undefined, lowerBound: false }]);
    });

    it('calls back once per subscription: never again after complete, error, or a later unsubscribe', () => {
      const completed = recorder();
      const source = new Subject<ClaudeRxEvent>();
      const subscription = source.pipe(onFinish(completed.callback)).subscribe();
      for (const event of scripted) source.next(event);
      source.complete();
      subscription.unsubscribe();
      expect(completed.calls.map((call) => call.end)).toEqual(['complete']);

      const failed = recorder();
      const failing = new Subject<ClaudeRxEvent>();
      const failedSubscription = failing.pipe(onFinish(failed.callback)).subscribe({ error: () => undefined });
      failing.next(scripted[0]!);
      failing.error(new Error('cut'));
      failedSubscription.unsubscribe();
      expect(failed.calls.map((call) => call.end)).toEqual(['error']);

      const twice = recorder();
      const shared = from(scripted).pipe(onFinish(twice.callback));
      shared.subscribe();
      shared.subscribe();
      expect(twice.calls.map((call) => call.end)).toEqual(['complete', 'complete']);
    });

    it('unsubscribed inside next of a Subject source: once, with the message up to that event', () => {
      const { calls, callback } = recorder();
      const source = new Subject<ClaudeRxEvent>();
      let count = 0;
      const subscription = source.pipe(onFinish(callback)).subscribe({
        next: () => {
          if (++count === 3) subscription.unsubscribe();
        },
      });
      for (const event of scripted) source.next(event);
      source.complete();
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ end: 'unsubscribe', lowerBound: true, message: { id: 'msg_sync' } });
      expect(textOf(calls[0]!.message)).toBe('He');
      expect(source.observed).toBe(false);
    });

    // A synchronous source whose subscriber leaves inside `next` (here `take(3)`): told as an unsubscribe, with the
    // message up to the third event.
    it('unsubscribed inside next of a synchronous source (take): reported as unsubscribe, once', () => {
      const { calls, callback } = recorder();
      from(scripted).pipe(onFinish(callback), take(3)).subscribe();
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ end: 'unsubscribe', lowerBound: true });
      expect(textOf(calls[0]!.message)).toBe('He');
    });

    it('unsubscribed inside next of a synchronous source (take): the source is read no further', () => {
      let read = 0;
      from(scripted)
        .pipe(
          tap(() => read++),
          onFinish(() => undefined),
          take(3),
        )
        .subscribe();
      expect(read).toBe(3);
    });

    // The final usage comes with `message_delta`: a stream cut between it and `message_stop` has exact usage.
    it('a stream cut after its final message_delta (no message_stop): the usage is exact', () => {
      const { calls, callback } = recorder();
      const cut = scripted.filter((event) => event.type !== 'message_stop');
      from(cut).pipe(onFinish(callback)).subscribe();
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ end: 'complete', message: { stop_reason: 'end_turn' }, lowerBound: false });
    });
  });

  describe('a callback that throws', () => {
    const scripted = events(textMessage('Hello', { chunkSize: 2 }));

    it('on complete: its exception becomes the error, instead of complete', async () => {
      const thrown = new Error('the ledger is down');
      const error = await errorOf(
        from(scripted).pipe(
          onFinish(() => {
            throw thrown;
          }),
        ),
      );
      expect(error).toBe(thrown);
    });

    it("on error: its exception becomes the error, in place of the source's", async () => {
      const thrown = new Error('the ledger is down');
      const source = new Subject<ClaudeRxEvent>();
      const failed = errorOf(
        source.pipe(
          onFinish(() => {
            throw thrown;
          }),
        ),
      );
      source.next(scripted[0]!);
      source.error(new Error('cut'));
      expect(await failed).toBe(thrown);
    });

    it('keeps a falsy exception an error', async () => {
      const error = await errorOf(
        from(scripted).pipe(
          onFinish(() => {
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- a falsy exception is the case under test
            throw 0;
          }),
        ),
      ).then((value) => ({ value }));
      expect(error).toEqual({ value: 0 });
    });

    it('on unsubscribe: reported to RxJS config.onUnhandledError, asynchronously, never thrown at the caller', async () => {
      const unhandled: unknown[] = [];
      const previous = config.onUnhandledError;
      config.onUnhandledError = (error) => unhandled.push(error);
      try {
        const thrown = new Error('the ledger is down');
        const source = new Subject<ClaudeRxEvent>();
        const subscription = source
          .pipe(
            onFinish(() => {
              throw thrown;
            }),
          )
          .subscribe({ error: () => unhandled.push('delivered to error') });
        source.next(scripted[0]!);
        expect(() => subscription.unsubscribe()).not.toThrow();
        expect(unhandled).toEqual([]);
        await until(() => unhandled.length > 0, 'the unhandled error');
        expect(unhandled).toEqual([thrown]);
      } finally {
        config.onUnhandledError = previous;
      }
    });
  });
});
