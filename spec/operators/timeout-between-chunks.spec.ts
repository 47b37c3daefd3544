import { type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  ChunkTimeoutError,
  claudeStream,
  timeoutBetweenChunks,
  type ChunkTimeoutInfo,
  type TimeoutBetweenChunksOptions,
} from 'claude-rx';
import { stallBeforeHeaders, streamReply, textMessage } from 'claude-rx/testing';
import { collect, errorOf, PARAMS, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

/** Jest's `toEqual` compares errors by message only: compare their class and own fields (`info`) too. */
function withErrorFacts(frames: unknown): unknown {
  if (!Array.isArray(frames)) return frames;
  return frames.map((frame: { notification?: { kind?: string; error?: unknown } }) => {
    const error = frame.notification?.kind === 'E' ? frame.notification.error : undefined;
    if (!(error instanceof Error)) return frame;
    return {
      ...frame,
      notification: { kind: 'E', error: { ...error, class: error.constructor, message: error.message } },
    };
  });
}

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(withErrorFacts(actual)).toEqual(withErrorFacts(expected)));
}

function timedOut(info: ChunkTimeoutInfo): ChunkTimeoutError {
  return new ChunkTimeoutError(info);
}

describe('timeoutBetweenChunks (marbles)', () => {
  it('never: fails the first bound (the shorthand bounds the first event too)', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-');
      const error = timedOut({ bound: 'first', limitMs: 10, eventsSeen: 0 });
      expectObservable(source.pipe(timeoutBetweenChunks(10))).toBe('10ms #', undefined, error);
      expectSubscriptions(source.subscriptions).toBe('^ 9ms !');
    });
  });

  it('retryWaits: each wait before a new attempt restarts the first bound after it; ignored after an event', () => {
    testScheduler().run(({ cold, hot, expectObservable }) => {
      // An attempt fails at 8 ms asking to wait 20 ms; the next starts at 28 ms and answers at 35 ms (27 ms after the
      // call began, beyond `first`: 10 ms), then stalls: the gap bound is unaffected by a wait told after it.
      const waits = hot<number>('8ms a 19ms b 20ms c', { a: 20, b: 0, c: 1000 });
      const source = cold('35ms x 9ms y', { x: 'x', y: 'y' });
      const error = timedOut({ bound: 'each', limitMs: 10, eventsSeen: 2 });
      expectObservable(source.pipe(timeoutBetweenChunks({ first: 10, each: 10, retryWaits: waits }))).toBe(
        '35ms x 9ms y 9ms #',
        { x: 'x', y: 'y' },
        error,
      );
    });
  });

  it('retryWaits: a new attempt that does not answer in time still fails the first bound', () => {
    testScheduler().run(({ cold, hot, expectObservable }) => {
      const waits = hot<number>('8ms a 19ms b', { a: 20, b: 0 });
      const error = timedOut({ bound: 'first', limitMs: 10, eventsSeen: 0 });
      expectObservable(cold('-').pipe(timeoutBetweenChunks({ first: 10, retryWaits: waits }))).toBe(
        '38ms #',
        undefined,
        error,
      );
    });
  });

  it('empty: completes with the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('|');
      expectObservable(source.pipe(timeoutBetweenChunks(10))).toBe('|');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('one: passes the event on, untouched', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const value = { type: 'message_start' };
      expectObservable(cold('5ms a 5ms |', { a: value }).pipe(timeoutBetweenChunks(10))).toBe('5ms a 5ms |', {
        a: value,
      });
    });
  });

  it('many: a steady stream never fires each, however long it runs', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const steady = 'a 8ms b 8ms c 8ms d 8ms e 8ms f 8ms g 8ms h 8ms i 8ms j 8ms k 8ms l 8ms m 8ms n 8ms (o|)';
      const source = cold(steady);
      expectObservable(source.pipe(timeoutBetweenChunks({ each: 10 }))).toBe(steady);
      expectSubscriptions(source.subscriptions).toBe('^ 125ms !');
    });
  });

  it('each: fires when a gap exceeds the limit, counting the events seen', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('     a 8ms b 20ms c|');
      const expected = '        a 8ms b 9ms  #';
      const error = timedOut({ bound: 'each', limitMs: 10, eventsSeen: 2 });
      expectObservable(source.pipe(timeoutBetweenChunks({ each: 10 }))).toBe(expected, undefined, error);
      expectSubscriptions(source.subscriptions).toBe('^ 18ms !');
    });
  });

  it('first: bounds only the wait for the first event, then each takes over', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('40ms a 8ms b 8ms c|');
      expectObservable(source.pipe(timeoutBetweenChunks({ first: 50, each: 10 }))).toBe('40ms a 8ms b 8ms c|');
    });
  });

  it('first: fires when the first event is late, with its own limit', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('60ms a|');
      const error = timedOut({ bound: 'first', limitMs: 50, eventsSeen: 0 });
      expectObservable(source.pipe(timeoutBetweenChunks({ first: 50, each: 100 }))).toBe('50ms #', undefined, error);
      expectSubscriptions(source.subscriptions).toBe('^ 49ms !');
    });
  });

  it('first alone: no bound between later events', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('5ms a 100ms b 1000ms |');
      expectObservable(source.pipe(timeoutBetweenChunks({ first: 10 }))).toBe('5ms a 100ms b 1000ms |');
    });
  });

  it('each after the first event, when first is longer: measured from the first event, not from subscribe', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('30ms a 15ms b|');
      const error = timedOut({ bound: 'each', limitMs: 10, eventsSeen: 1 });
      expectObservable(source.pipe(timeoutBetweenChunks({ first: 50, each: 10 }))).toBe(
        '30ms a 9ms #',
        undefined,
        error,
      );
    });
  });

  it('total: fires on a steady stream, never reset by its events', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('     a 8ms b 8ms c 8ms d 8ms e 8ms f|');
      const expected = '        a 8ms b 8ms c 8ms d 2ms #';
      const error = timedOut({ bound: 'total', limitMs: 30, eventsSeen: 4 });
      expectObservable(source.pipe(timeoutBetweenChunks({ each: 10, total: 30 }))).toBe(expected, undefined, error);
      expectSubscriptions(source.subscriptions).toBe('^ 29ms !');
    });
  });

  it('total alone: bounds a source that never emits', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const error = timedOut({ bound: 'total', limitMs: 30, eventsSeen: 0 });
      expectObservable(cold('-').pipe(timeoutBetweenChunks({ total: 30 }))).toBe('30ms #', undefined, error);
    });
  });

  it('error: passes the source error through', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const error = new Error('boom');
      expectObservable(cold('a-#', undefined, error).pipe(timeoutBetweenChunks(10))).toBe('a-#', undefined, error);
    });
  });

  it('early unsubscribe: unsubscribes the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a 8ms b 100ms c|');
      expectObservable(source.pipe(timeoutBetweenChunks({ each: 10, total: 50 })), '^ 14ms !').toBe('a 8ms b');
      expectSubscriptions(source.subscriptions).toBe('^ 14ms !');
    });
  });

  it('hot source: the first bound counts from the subscription', () => {
    testScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('a-^-b 20ms c|');
      const error = timedOut({ bound: 'each', limitMs: 10, eventsSeen: 1 });
      expectObservable(source.pipe(timeoutBetweenChunks(10))).toBe('--b 9ms #', undefined, error);
      expectSubscriptions(source.subscriptions).toBe('^ 11ms !');
    });
  });

  it.each<[string, unknown]>([
    ['the limit', 0],
    ['the limit', -1],
    ['the limit', NaN],
    ['the limit', Infinity],
    ['the limit', 2 ** 31],
    ['first', { first: 0 }],
    ['each', { each: -5 }],
    ['each', { each: '100' }],
    ['total', { total: Infinity }],
    ['total', { total: 2 ** 31 }],
    ['at least one of first, each or total', {}],
    ['expected a number of milliseconds or { first, each, total }', null],
    ['expected a number of milliseconds or { first, each, total }', '100'],
  ])('throws a TypeError naming %s for a bad limit, at creation', (name, limits) => {
    expect(() => timeoutBetweenChunks(limits as number | TimeoutBetweenChunksOptions)).toThrow(TypeError);
    expect(() => timeoutBetweenChunks(limits as number | TimeoutBetweenChunksOptions)).toThrow(name);
  });
});

describe('timeoutBetweenChunks against the fake server', () => {
  const fake = useFakeClaude();
  const rejections = trackUnhandledRejections();
  afterEach(() => expect(rejections).toEqual([]));

  async function timeoutOf(source: Observable<unknown>): Promise<ChunkTimeoutError> {
    const error = await errorOf(source);
    expect(error).toBeInstanceOf(ChunkTimeoutError);
    return error as ChunkTimeoutError;
  }

  it('a stream that stalls after two events fails the each bound, and the request is aborted', async () => {
    fake.server.enqueue(streamReply(textMessage('Hello there, how are you?'), { stallAfter: 2 }));
    const error = await timeoutOf(claudeStream(fake.client, PARAMS).pipe(timeoutBetweenChunks(100)));

    expect(error.info).toEqual({ bound: 'each', limitMs: 100, eventsSeen: 2 });
    const request = fake.server.lastRequest!;
    await request.closed;
    expect(request.closedByClient).toBe(true);
    expect(request.eventsWritten).toBe(2);
  });

  it('a server that never answers fails the first bound, and the request is aborted', async () => {
    fake.server.enqueue(stallBeforeHeaders());
    const error = await timeoutOf(
      claudeStream(fake.client, PARAMS).pipe(timeoutBetweenChunks({ first: 150, each: 50 })),
    );

    expect(error.info).toEqual({ bound: 'first', limitMs: 150, eventsSeen: 0 });
    const request = fake.server.lastRequest!;
    await request.closed;
    expect(request.closedByClient).toBe(true);
  });

  it('a slow but steady stream fails the total bound, and the request is aborted', async () => {
    const events = textMessage('abcdefghijklmnopqrst', { chunkSize: 1 });
    fake.server.enqueue(streamReply(events, { delayMs: 20 }));
    const error = await timeoutOf(
      claudeStream(fake.client, PARAMS).pipe(timeoutBetweenChunks({ each: 150, total: 200 })),
    );

    expect(error.info.bound).toBe('total');
    expect(error.info.limitMs).toBe(200);
    expect(error.info.eventsSeen).toBeGreaterThan(0);
    expect(error.info.eventsSeen).toBeLessThan(events.length);
    const request = fake.server.lastRequest!;
    await request.closed;
    expect(request.closedByClient).toBe(true);
  });

  it('a stream within its bounds is delivered whole', async () => {
    const events = textMessage('Quick enough', { chunkSize: 3 });
    fake.server.enqueue(streamReply(events, { delayMs: 5 }));
    const received = await collect(
      claudeStream(fake.client, PARAMS).pipe(timeoutBetweenChunks({ first: 2_000, each: 1_000, total: 5_000 })),
    );

    expect(received).toEqual(events);
    expect(fake.server.lastRequest!.completed).toBe(true);
  });
});
