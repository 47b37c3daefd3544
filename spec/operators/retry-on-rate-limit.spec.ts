import { jest } from '@jest/globals';
import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import { defer, type MonoTypeOperatorFunction, type Observable, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  accumulateMessage,
  ChunkTimeoutError,
  claudeStream,
  IncompleteStreamError,
  retryOnRateLimit,
  timeoutBetweenChunks,
  type ClaudeRxEvent,
  type ClaudeStreamEvent,
  type RetryInfo,
  type RetryOnRateLimitOptions,
  type StreamRestartEvent,
} from 'claude-rx';
import { errorReply, stallBeforeHeaders, streamReply, textMessage } from 'claude-rx/testing';
import { collect, errorOf, PARAMS, sleep, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

// ---------------------------------------------------------------------------------------------------------------
// Marble helpers

/** Jest's `toEqual` compares errors by message only: compare their class and own fields (`status`, `info`...) too. */
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

// s: message_start, b: content_block_start, t: text_delta (the first content), e: content_block_stop,
// d: message_delta, z: message_stop.
const hi = textMessage('Hi');
const V: Record<string, ClaudeRxEvent> = { s: hi[0]!, b: hi[1]!, t: hi[2]!, e: hi[3]!, d: hi[4]!, z: hi[5]! };

function body(type: string, message: string) {
  return { type: 'error', error: { type, message } };
}

/** An HTTP 429 as the SDK throws it, with the given response headers. */
function rateLimit(headers: Record<string, string> = {}, message = 'Rate limited'): APIError {
  return new Anthropic.RateLimitError(429, body('rate_limit_error', message), message, new Headers(headers));
}

/** An HTTP error as the SDK throws it (`APIError.generate` picks the class by status). */
function httpError(status: number, type: string, headers: Record<string, string> = {}): APIError {
  return APIError.generate(status, body(type, `HTTP ${status}`), `HTTP ${status}`, new Headers(headers));
}

/** A mid-stream `event: error` as the SDK throws it: status undefined, type from the body. */
function midStream(type: 'overloaded_error' | 'rate_limit_error' | 'api_error'): APIError {
  return new APIError(undefined, body(type, type), undefined, new Headers(), type);
}

/** A source that is a different cold Observable at each subscription (each attempt). */
function attempts(...sources: Observable<ClaudeRxEvent>[]): Observable<ClaudeRxEvent> {
  let next = 0;
  return defer(() => {
    const source = sources[next++];
    if (!source) throw new Error(`unexpected attempt ${next}`);
    return source;
  });
}

function marker(attempt: number, delayMs: number, error: unknown): StreamRestartEvent {
  return { type: 'stream_restart', attempt, delayMs, error };
}

afterEach(() => jest.restoreAllMocks());

describe('retryOnRateLimit (marbles)', () => {
  it('never: mirrors a source that never emits', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ClaudeRxEvent>('-');
      expectObservable(source.pipe(retryOnRateLimit())).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('empty: completes with the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ClaudeRxEvent>('|');
      expectObservable(source.pipe(retryOnRateLimit())).toBe('|');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('one: passes a content event through at once', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('--t--|', V);
      expectObservable(source.pipe(retryOnRateLimit())).toBe('--t--|', V);
    });
  });

  it('many: holds message_start and content_block_start back until the first content, then passes events on time', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('    sb-t----ed(z|)', V);
      const expected = '       ---(sbt)ed(z|)';
      expectObservable(source.pipe(retryOnRateLimit())).toBe(expected, V);
      expectSubscriptions(source.subscriptions).toBe('^---------!');
    });
  });

  it('releases what it held when the source completes without content', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('sb-e|', V);
      expectObservable(source.pipe(retryOnRateLimit())).toBe('----(sbe|)', V);
    });
  });

  it('error: rethrows an error it does not retry, after what it held back', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = httpError(400, 'invalid_request_error');
      const source = cold('sb#', V, error);
      expectObservable(source.pipe(retryOnRateLimit())).toBe('--(sb#)', V, error);
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('retries a 429 before content transparently, after retry-after-ms, and tells onRetry', () => {
    const error = rateLimit({ 'retry-after-ms': '300' });
    const retries: RetryInfo[] = [];
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('                   sb#', V, error);
      const second = cold('                  sb-t----ed(z|)', V);
      const expected = '                     302ms ---(sbt)ed(z|)';
      const result = attempts(first, second).pipe(retryOnRateLimit({ onRetry: (info) => retries.push(info) }));
      expectObservable(result).toBe(expected, V);
      expectSubscriptions(first.subscriptions).toBe('^-!');
      expectSubscriptions(second.subscriptions).toBe('302ms ^---------!');
    });
    expect(retries).toEqual([{ attempt: 1, delayMs: 300, error }]);
  });

  it.each([
    ['retry-after in seconds', { 'retry-after': '2' }, '2002ms'],
    ['retry-after in fractional seconds', { 'retry-after': '0.25' }, '252ms'],
    ['retry-after-ms before retry-after', { 'retry-after-ms': '40', 'retry-after': '7' }, '42ms'],
    // The scheduler's clock is at 2 ms when the error comes: the date (5 s after the epoch) is 4998 ms away.
    ['retry-after as an HTTP date, by the scheduler clock', { 'retry-after': new Date(5_000).toUTCString() }, '5000ms'],
    ['retry-after as an HTTP date in the past: at once', { 'retry-after': new Date(0).toUTCString() }, '2ms'],
  ])('waits what the server asked: %s', (_, headers, resubscribedAt) => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('sb#', V, rateLimit(headers));
      const second = cold('(sbt|)', V);
      expectObservable(attempts(first, second).pipe(retryOnRateLimit())).toBe(`${resubscribedAt} (sbt|)`, V);
      expectSubscriptions(second.subscriptions).toBe(`${resubscribedAt} (^!)`);
    });
  });

  it('gives up at once, rethrowing, when the server asks for longer than maxDelayMs', () => {
    const onRetry = jest.fn();
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = rateLimit({ 'retry-after': '120' });
      const source = cold('sb#', V, error);
      expectObservable(source.pipe(retryOnRateLimit({ maxDelayMs: 60_000, onRetry }))).toBe('--(sb#)', V, error);
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('backs off exponentially up to maxDelayMs (jitter none), then rethrows the last error past maxRetries', () => {
    const errors = [1, 2, 3, 4].map((n) => httpError(529, 'overloaded_error', { 'x-attempt': String(n) }));
    const retries: RetryInfo[] = [];
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const [a, b, c, d] = errors.map((error) => cold<ClaudeRxEvent>('#', undefined, error));
      const config = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 300, jitter: 'none' as const };
      const result = attempts(a!, b!, c!, d!).pipe(retryOnRateLimit({ ...config, onRetry: (i) => retries.push(i) }));
      // Waits 100, 200, then 300 (400 capped).
      expectObservable(result).toBe('600ms #', undefined, errors[3]);
      expectSubscriptions(a!.subscriptions).toBe('(^!)');
      expectSubscriptions(b!.subscriptions).toBe('100ms (^!)');
      expectSubscriptions(c!.subscriptions).toBe('300ms (^!)');
      expectSubscriptions(d!.subscriptions).toBe('600ms (^!)');
    });
    expect(retries).toEqual([
      { attempt: 1, delayMs: 100, error: errors[0] },
      { attempt: 2, delayMs: 200, error: errors[1] },
      { attempt: 3, delayMs: 300, error: errors[2] },
    ]);
    expect(retries.map((retry) => retry.error)).toEqual(errors.slice(0, 3));
  });

  it('full jitter: waits floor(random × step), the step doubling', () => {
    const random = jest
      .spyOn(Math, 'random')
      .mockReturnValueOnce(0.5)
      .mockReturnValueOnce(0.999_999)
      .mockReturnValueOnce(0);
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = midStream('overloaded_error');
      const source = cold<ClaudeRxEvent>('#', undefined, error);
      const result = source.pipe(retryOnRateLimit({ maxRetries: 3, baseDelayMs: 100 }));
      // 50 (of 100), 199 (of 200), 0 (of 400).
      expectObservable(result).toBe('249ms #', undefined, error);
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '50ms (^!)', '249ms (^!)', '249ms (^!)']);
    });
    expect(random).toHaveBeenCalledTimes(3);
  });

  it('full jitter: every wait is within [0, step), and is the wait actually taken', () => {
    const scheduler = testScheduler();
    const retries: RetryInfo[] = [];
    const subscribedAt: number[] = [];
    let failedAt: number | undefined;
    scheduler.run(({ cold }) => {
      const source = defer(() => {
        subscribedAt.push(scheduler.now());
        return cold<ClaudeRxEvent>('#', undefined, rateLimit());
      });
      source
        .pipe(retryOnRateLimit({ maxRetries: 8, baseDelayMs: 64, maxDelayMs: 1000, onRetry: (i) => retries.push(i) }))
        .subscribe({ error: () => (failedAt = scheduler.now()) });
    });
    expect(retries).toHaveLength(8);
    retries.forEach(({ delayMs }, i) => {
      const step = Math.min(1000, 64 * 2 ** i);
      expect(Number.isInteger(delayMs)).toBe(true);
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThan(step);
      expect(subscribedAt[i + 1]! - subscribedAt[i]!).toBe(delayMs);
    });
    expect(failedAt).toBe(retries.reduce((sum, { delayMs }) => sum + delayMs, 0));
  });

  it('retries a mid-stream overloaded_error right after message_start transparently', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const first = cold('s#', V, midStream('overloaded_error'));
      const second = cold('  sbt----(ed|)', V);
      const config = { baseDelayMs: 10, jitter: 'none' as const };
      expectObservable(attempts(first, second).pipe(retryOnRateLimit(config))).toBe('11ms --(sbt)(ed|)', V);
    });
  });

  it('after content, rethrows by default: nothing is delivered twice', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = rateLimit({ 'retry-after-ms': '5' });
      const source = cold('sb-t----#', V, error);
      expectObservable(source.pipe(retryOnRateLimit())).toBe('---(sbt)#', V, error);
      expectSubscriptions(source.subscriptions).toBe('^-------!');
    });
  });

  it('restartAfterContent: emits the marker, waits, then delivers the whole new stream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = midStream('overloaded_error');
      const first = cold('     sb-t----#', V, error);
      const second = cold('    sb-t----ed(z|)', V);
      // The marker at 8; the new attempt from 108, its first content at 111.
      const expected = '       ---(sbt)R 102ms (sbt)ed(z|)';
      const config = { restartAfterContent: true, baseDelayMs: 100, jitter: 'none' } as const;
      const result = attempts(first, second).pipe(retryOnRateLimit(config));
      expectObservable(result).toBe(expected, { ...V, R: marker(1, 100, error) });
      expectSubscriptions(first.subscriptions).toBe('^-------!');
      expectSubscriptions(second.subscriptions).toBe('108ms ^---------!');
    });
  });

  it('restartAfterContent: a new attempt failing before content is retried transparently, without a second marker', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const error = rateLimit({ 'retry-after-ms': '10' });
      const first = cold('t#', V, error);
      const second = cold('s#', V, rateLimit({ 'retry-after-ms': '20' }));
      const third = cold('sbt----|', V);
      const result = attempts(first, second, third).pipe(retryOnRateLimit({ restartAfterContent: true }));
      // The marker at 1; the second attempt at 11 fails at 12; the third from 32, its content at 34.
      expectObservable(result).toBe('tR 32ms (sbt)|', { ...V, R: marker(1, 10, error) });
    });
  });

  it('restartAfterContent still gives up past maxRetries, with the last error', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const error = midStream('rate_limit_error');
      const source = cold('t#', V, error);
      const result = source.pipe(
        retryOnRateLimit({ restartAfterContent: true, maxRetries: 1, baseDelayMs: 5, jitter: 'none' }),
      );
      expectObservable(result).toBe('tR 4ms t#', { ...V, R: marker(1, 5, error) }, error);
    });
  });

  it.each<[string, unknown]>([
    ['HTTP 429', rateLimit()],
    ['HTTP 529', httpError(529, 'overloaded_error')],
    ['a mid-stream rate_limit_error', midStream('rate_limit_error')],
    ['a mid-stream overloaded_error', midStream('overloaded_error')],
  ])('retries %s', (_, error) => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('#', V, error);
      const second = cold('t|', V);
      const config = { baseDelayMs: 7, jitter: 'none' } as const;
      expectObservable(attempts(first, second).pipe(retryOnRateLimit(config))).toBe('7ms t|', V);
      expectSubscriptions(second.subscriptions).toBe('7ms ^!');
    });
  });

  it.each<[string, unknown]>([
    ['HTTP 400', httpError(400, 'invalid_request_error')],
    ['HTTP 401', httpError(401, 'authentication_error')],
    ['HTTP 403', httpError(403, 'permission_error')],
    ['HTTP 413', httpError(413, 'request_too_large')],
    ['a 4xx whose body says rate_limit_error', httpError(400, 'rate_limit_error')],
    ['HTTP 500', httpError(500, 'api_error')],
    ['a mid-stream api_error', midStream('api_error')],
    ['an abort', new APIUserAbortError()],
    ['a connection timeout', new APIConnectionTimeoutError()],
    ['a connection error', new APIConnectionError({ message: 'Connection error.' })],
    ['a ChunkTimeoutError', new ChunkTimeoutError({ bound: 'each', limitMs: 10, eventsSeen: 1 })],
    ['an IncompleteStreamError', new IncompleteStreamError(undefined)],
    ['a plain Error', new Error('boom')],
  ])('does not retry %s', (_, error) => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('s#', V, error);
      expectObservable(source.pipe(retryOnRateLimit({ baseDelayMs: 0 }))).toBe('-(s#)', V, error);
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('retryOn widens what is retried, and is told the error and the retry that would follow', () => {
    const timeout = new APIConnectionTimeoutError();
    const retryOn = jest.fn((error: unknown, _attempt: number) => error instanceof APIConnectionTimeoutError);
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ClaudeRxEvent>('#', undefined, timeout);
      const result = source.pipe(retryOnRateLimit({ retryOn, maxRetries: 2, baseDelayMs: 10, jitter: 'none' }));
      expectObservable(result).toBe('30ms #', undefined, timeout);
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '10ms (^!)', '30ms (^!)']);
    });
    // Not asked a third time: maxRetries is used up first.
    expect(retryOn.mock.calls).toEqual([
      [timeout, 1],
      [timeout, 2],
    ]);
  });

  it('retryOn narrows what is retried', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = rateLimit({ 'retry-after-ms': '1' });
      const source = cold('sb#', V, error);
      expectObservable(source.pipe(retryOnRateLimit({ retryOn: () => false }))).toBe('--(sb#)', V, error);
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('maxRetries: 0 passes everything through unchanged', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const error = rateLimit({ 'retry-after-ms': '1' });
      expectObservable(cold('sb#', V, error).pipe(retryOnRateLimit({ maxRetries: 0 }))).toBe('--(sb#)', V, error);
    });
  });

  it('early unsubscribe: unsubscribes the current attempt', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('sb-t----ed(z|)', V);
      expectObservable(source.pipe(retryOnRateLimit()), '^----!').toBe('---(sbt)', V);
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('early unsubscribe during the wait: cancels it, no new attempt', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('sb#', V, rateLimit({ 'retry-after-ms': '300' }));
      const second = cold('sbt|', V);
      expectObservable(attempts(first, second).pipe(retryOnRateLimit()), '^ 99ms !').toBe('-');
      expectSubscriptions(first.subscriptions).toBe('^-!');
      expectSubscriptions(second.subscriptions).toBe([]);
    });
  });

  it('early unsubscribe on a hot source', () => {
    testScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('s-^-b-t-e-d-z|', V);
      expectObservable(source.pipe(retryOnRateLimit()), '^----!').toBe('----(bt)', V);
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('a throwing onRetry ends the stream with its exception, without retrying', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const thrown = new Error('onRetry failed');
      const source = cold('sb#', V, rateLimit({ 'retry-after-ms': '1' }));
      const onRetry = () => {
        throw thrown;
      };
      expectObservable(source.pipe(retryOnRateLimit({ onRetry }))).toBe('--(sb#)', V, thrown);
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('a throwing retryOn ends the stream with its exception, without retrying', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const thrown = new Error('retryOn failed');
      const source = cold('sb#', V, rateLimit({ 'retry-after-ms': '1' }));
      const retryOn = () => {
        throw thrown;
      };
      expectObservable(source.pipe(retryOnRateLimit({ retryOn }))).toBe('--(sb#)', V, thrown);
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it.each<[string, unknown]>([
    ['maxRetries', { maxRetries: -1 }],
    ['maxRetries', { maxRetries: 1.5 }],
    ['maxRetries', { maxRetries: Infinity }],
    ['maxRetries', { maxRetries: '3' }],
    ['baseDelayMs', { baseDelayMs: NaN }],
    ['baseDelayMs', { baseDelayMs: -1 }],
    ['maxDelayMs', { maxDelayMs: Infinity }],
    ['maxDelayMs', { maxDelayMs: 2 ** 31 }],
    ['maxDelayMs', { maxDelayMs: null }],
    ['jitter', { jitter: 'half' }],
    ['retryOn', { retryOn: true }],
    ['onRetry', { onRetry: 'log' }],
    ['restartAfterContent', { restartAfterContent: 'yes' }],
    ['config', null],
    ['config', 5],
  ])('throws a TypeError naming %s for a bad option, at creation', (name, config) => {
    expect(() => retryOnRateLimit(config as RetryOnRateLimitOptions)).toThrow(TypeError);
    expect(() => retryOnRateLimit(config as RetryOnRateLimitOptions)).toThrow(name);
  });

  it('types: the marker is in the output type whenever restartAfterContent may be true', () => {
    const plain: MonoTypeOperatorFunction<ClaudeStreamEvent> = retryOnRateLimit();
    const restarting: OperatorFunction<ClaudeRxEvent, ClaudeRxEvent> = retryOnRateLimit({ restartAfterContent: true });
    const dynamic = { restartAfterContent: Math.random() > 2 } as RetryOnRateLimitOptions;
    // @ts-expect-error a config only known at run time may restart: the output is not just the source's events
    const wrong: MonoTypeOperatorFunction<ClaudeStreamEvent> = retryOnRateLimit(dynamic);
    expect([plain, restarting, wrong].every((op) => typeof op === 'function')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Against the fake server, with the real SDK (its own retries off)

describe('retryOnRateLimit against the fake server', () => {
  const fake = useFakeClaude();
  const rejections = trackUnhandledRejections();
  afterEach(() => expect(rejections).toEqual([]));

  const overloaded = { type: 'overloaded_error', message: 'Overloaded' };

  /** The events a subscription saw and how it ended. */
  function outcome<T>(source: Observable<T>): Promise<{ events: T[]; error?: unknown }> {
    const events: T[] = [];
    return new Promise((resolve) => {
      source.subscribe({
        next: (event) => events.push(event),
        error: (error: unknown) => resolve({ events, error }),
        complete: () => resolve({ events }),
      });
    });
  }

  it('retries a 429 after its retry-after-ms, with a fresh request, into one clean stream', async () => {
    const events = textMessage('Hello after the rate limit', { chunkSize: 5 });
    fake.server.enqueue(errorReply(429, { retryAfterMs: 300 }), streamReply(events));
    const retries: RetryInfo[] = [];
    const received = await collect(
      claudeStream(fake.client, PARAMS).pipe(retryOnRateLimit({ onRetry: (info) => retries.push(info) })),
    );

    expect(received).toEqual(events);
    expect(received.filter((event) => event.type === 'message_start')).toHaveLength(1);
    const [first, second] = fake.server.requests;
    expect(fake.server.requests).toHaveLength(2);
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(300);
    expect(second!.body).toEqual({ ...PARAMS, stream: true });
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ attempt: 1, delayMs: 300 });
    expect(retries[0]!.error).toBeInstanceOf(Anthropic.RateLimitError);
  });

  it('retries an HTTP 529', async () => {
    const events = textMessage('Less busy now');
    fake.server.enqueue(errorReply(529, { retryAfterMs: 10 }), streamReply(events));
    expect(await collect(claudeStream(fake.client, PARAMS).pipe(retryOnRateLimit()))).toEqual(events);
    expect(fake.server.requests).toHaveLength(2);
  });

  it('retries an overloaded_error right after message_start transparently', async () => {
    const events = textMessage('A clean second stream', { chunkSize: 4 });
    fake.server.enqueue(streamReply(events, { errorAfter: { events: 1, error: overloaded } }), streamReply(events));
    const retries: RetryInfo[] = [];
    const config = { baseDelayMs: 20, jitter: 'none', onRetry: (info: RetryInfo) => retries.push(info) } as const;
    const received = await collect(claudeStream(fake.client, PARAMS).pipe(retryOnRateLimit(config)));

    expect(received).toEqual(events);
    expect(received.filter((event) => event.type === 'message_start')).toHaveLength(1);
    expect(fake.server.requests).toHaveLength(2);
    expect(fake.server.requests[0]!.eventsWritten).toBe(2); // message_start and the error frame
    expect(retries).toMatchObject([{ attempt: 1, delayMs: 20 }]);
    expect(retries[0]!.error).toBeInstanceOf(APIError);
    expect((retries[0]!.error as APIError).type).toBe('overloaded_error');
  });

  it('after content, rethrows the overloaded_error by default: one request, nothing repeated', async () => {
    const events = textMessage('Half an answer', { chunkSize: 4 });
    fake.server.enqueue(
      streamReply(events, { errorAfter: { events: 3, error: overloaded } }),
      streamReply(textMessage('Never requested')),
    );
    const { events: received, error } = await outcome(claudeStream(fake.client, PARAMS).pipe(retryOnRateLimit()));

    expect(received).toEqual(events.slice(0, 3));
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).type).toBe('overloaded_error');
    expect(fake.server.requests).toHaveLength(1);
  });

  it('restartAfterContent: emits the marker, then the whole second stream, which accumulateMessage follows', async () => {
    const firstEvents = textMessage('Half an answer', { chunkSize: 4 });
    const secondEvents = textMessage('The whole answer', { chunkSize: 4 });
    fake.server.enqueue(
      streamReply(firstEvents, { errorAfter: { events: 3, error: overloaded } }),
      streamReply(secondEvents),
    );
    const events$ = claudeStream(fake.client, PARAMS).pipe(
      retryOnRateLimit({ restartAfterContent: true, baseDelayMs: 20, jitter: 'none' }),
    );
    const received = await collect(events$);

    expect(received.slice(0, 3)).toEqual(firstEvents.slice(0, 3));
    expect(received[3]).toMatchObject({ type: 'stream_restart', attempt: 1, delayMs: 20 });
    expect((received[3] as StreamRestartEvent).error).toBeInstanceOf(APIError);
    expect(received.slice(4)).toEqual(secondEvents);
    expect(fake.server.requests).toHaveLength(2);

    fake.server.enqueue(
      streamReply(firstEvents, { errorAfter: { events: 3, error: overloaded } }),
      streamReply(secondEvents),
    );
    const snapshots = await collect(events$.pipe(accumulateMessage()));
    expect(snapshots.length).toBeGreaterThan(0);
    expect(snapshots.at(-1)!.content).toMatchObject([{ type: 'text', text: 'The whole answer' }]);
  });

  it.each([
    [400, Anthropic.BadRequestError],
    [401, Anthropic.AuthenticationError],
  ])('does not retry an HTTP %i: one request', async (status, errorClass) => {
    fake.server.enqueue(errorReply(status), streamReply(textMessage('Never requested')));
    const onRetry = jest.fn();
    const error = await errorOf(claudeStream(fake.client, PARAMS).pipe(retryOnRateLimit({ onRetry })));

    expect(error).toBeInstanceOf(errorClass);
    expect(fake.server.requests).toHaveLength(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('rethrows the last error once maxRetries are used up', async () => {
    fake.server.enqueue(
      errorReply(429, { retryAfterMs: 10, message: 'limit 1' }),
      errorReply(429, { retryAfterMs: 10, message: 'limit 2' }),
      errorReply(429, { retryAfterMs: 10, message: 'limit 3' }),
      streamReply(textMessage('Never requested')),
    );
    const error = await errorOf(claudeStream(fake.client, PARAMS).pipe(retryOnRateLimit({ maxRetries: 2 })));

    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as APIError).apiMessage).toBe('limit 3');
    expect(fake.server.requests).toHaveLength(3);
  });

  it('gives up at once when retry-after is beyond maxDelayMs', async () => {
    fake.server.enqueue(errorReply(429, { retryAfterSeconds: 120 }), streamReply(textMessage('Never requested')));
    const onRetry = jest.fn();
    const error = await errorOf(
      claudeStream(fake.client, PARAMS).pipe(retryOnRateLimit({ maxDelayMs: 1_000, onRetry })),
    );

    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(fake.server.requests).toHaveLength(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('does not retry a ChunkTimeoutError: the stalled request is aborted and no other is sent', async () => {
    fake.server.enqueue(stallBeforeHeaders(), streamReply(textMessage('Never requested')));
    const error = await errorOf(
      claudeStream(fake.client, PARAMS).pipe(
        timeoutBetweenChunks({ first: 100 }),
        retryOnRateLimit({ baseDelayMs: 0 }),
      ),
    );

    expect(error).toBeInstanceOf(ChunkTimeoutError);
    const [request] = fake.server.requests;
    await request!.closed;
    expect(request!.closedByClient).toBe(true);
    expect(fake.server.requests).toHaveLength(1);
  });

  it('unsubscribing during the wait sends no further request', async () => {
    fake.server.enqueue(errorReply(429, { retryAfterMs: 200 }), streamReply(textMessage('Never requested')));
    let retrying!: () => void;
    const retried = new Promise<void>((resolve) => (retrying = resolve));
    const outcomes: unknown[] = [];
    const subscription = claudeStream(fake.client, PARAMS)
      .pipe(retryOnRateLimit({ onRetry: () => retrying() }))
      .subscribe({
        error: (error: unknown) => {
          outcomes.push(error);
          retrying();
        },
        complete: () => outcomes.push('complete'),
      });
    await retried;
    subscription.unsubscribe();
    await sleep(300);
    expect(fake.server.requests).toHaveLength(1);
    expect(outcomes).toEqual([]);
  });
});
