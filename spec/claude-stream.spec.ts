import { jest } from '@jest/globals';
import Anthropic, { APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { getEventListeners } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { take } from 'rxjs';
import { claudeStream, IncompleteStreamError, type ClaudeStreamEvent } from 'claude-rx';
import {
  errorReply,
  messageEvents,
  recordedReply,
  stallBeforeHeaders,
  streamReply,
  text,
  textMessage,
  thinking,
  toolUse,
} from 'claude-rx/testing';
import {
  collect,
  errorOf,
  PARAMS,
  sleep,
  TEST_API_KEY,
  trackUnhandledRejections,
  useFakeClaude,
  folderOf,
} from './support/harness.js';
import { everyBlockKind } from './support/every-block-kind.js';

// Some tests here assert that an abort reaches the server within a bound (the 100 or 200 ms). The whole
// suite runs in one process on two cores: a garbage collection or a neighbour's burst can stretch one measurement.
// A failed test is run again, twice at most; a real regression fails every time.
jest.retryTimes(2, { logErrorsBeforeRetry: true });

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const FIXTURES = join(folderOf(import.meta.url), 'fixtures', 'recorded');

/** What the SDK's own iterator yields for the next scripted reply. */
async function sdkEvents(client: Anthropic): Promise<ClaudeStreamEvent[]> {
  const events: ClaudeStreamEvent[] = [];
  const stream = await client.messages.create({ ...PARAMS, stream: true });
  for await (const event of stream) events.push(event);
  return events;
}

describe('claudeStream', () => {
  it('sends nothing before subscribe, and one request per subscription', async () => {
    fake.server.enqueue(streamReply(textMessage('one')), streamReply(textMessage('two')));
    const stream$ = claudeStream(fake.client, PARAMS);
    await sleep(50);
    expect(fake.server.requests).toHaveLength(0);

    await collect(stream$);
    await collect(stream$);
    expect(fake.server.requests).toHaveLength(2);
    expect(fake.server.requests[0]!.body).toEqual({ ...PARAMS, stream: true });
    expect(fake.server.requests[0]!.method).toBe('POST');
    expect(fake.server.requests[0]!.path).toBe('/v1/messages');
  });

  it.each(readdirSync(FIXTURES).filter((file) => file.endsWith('.sse')))(
    'emits what the SDK iterator yields for the recorded %s',
    async (file) => {
      const body = readFileSync(join(FIXTURES, file), 'utf8');
      fake.server.enqueue(recordedReply(body), recordedReply(body));
      const expected = await sdkEvents(fake.client);
      const events: ClaudeStreamEvent[] = [];
      const outcome = await new Promise<unknown>((resolve) =>
        claudeStream(fake.client, PARAMS).subscribe({
          next: (event) => events.push(event),
          error: resolve,
          complete: () => resolve('complete'),
        }),
      );
      expect(events).toEqual(expected);
      if (expected.at(-1)?.type === 'message_stop') {
        expect(outcome).toBe('complete');
      } else {
        // incomplete_partial_json_response.sse: its last frame has no closing blank line, so no message_stop.
        expect(outcome).toBeInstanceOf(IncompleteStreamError);
        expect((outcome as IncompleteStreamError).partial?.stop_reason).toBe('max_tokens');
      }
    },
  );

  it('emits what the SDK iterator yields for a stream with every block and delta kind, split across chunks', async () => {
    const events = everyBlockKind();
    fake.server.enqueue(streamReply(events, { chunkBytes: 7 }), streamReply(events, { chunkBytes: 7 }));
    const expected = await sdkEvents(fake.client);
    const actual = await collect(claudeStream(fake.client, PARAMS));
    expect(actual).toEqual(expected);
    expect(actual).toEqual(events);
    const deltaKinds = new Set(actual.flatMap((e) => (e.type === 'content_block_delta' ? [e.delta.type] : [])));
    expect([...deltaKinds].sort()).toEqual(
      ['citations_delta', 'input_json_delta', 'signature_delta', 'text_delta', 'thinking_delta'].sort(),
    );
  });

  it('aborts the HTTP request when unsubscribed before the response headers', async () => {
    fake.server.enqueue(stallBeforeHeaders());
    const errors: unknown[] = [];
    const subscription = claudeStream(fake.client, PARAMS).subscribe({ error: (e) => errors.push(e) });
    const [request] = await fake.server.waitForRequests(1);
    const unsubscribedAt = performance.now();
    subscription.unsubscribe();
    await request!.closed;
    expect(request!.closedByClient).toBe(true);
    expect(request!.closedAt! - unsubscribedAt).toBeLessThan(100);
    expect(errors).toEqual([]);
  });

  it('aborts the HTTP request when unsubscribed mid-stream, silently', async () => {
    fake.server.enqueue(streamReply(textMessage('Hello there, how are you?'), { stallAfter: 4 }));
    const seen: ClaudeStreamEvent[] = [];
    const outcome: string[] = [];
    const subscription = claudeStream(fake.client, PARAMS).subscribe({
      next: (event) => seen.push(event),
      error: () => outcome.push('error'),
      complete: () => outcome.push('complete'),
    });
    const [request] = await fake.server.waitForRequests(1);
    while (seen.length < 4) await sleep(5);
    const unsubscribedAt = performance.now();
    subscription.unsubscribe();
    await request!.closed;
    expect(request!.closedByClient).toBe(true);
    expect(request!.closedAt! - unsubscribedAt).toBeLessThan(100);
    await sleep(20);
    expect(outcome).toEqual([]);
  });

  it('leaves a request read to its end alone: the signal fetch got is not aborted on completion', async () => {
    const signals: AbortSignal[] = [];
    const client = new Anthropic({
      apiKey: TEST_API_KEY,
      baseURL: fake.server.url,
      maxRetries: 0,
      fetch: (url: string | URL | Request, init?: RequestInit) => {
        if (init?.signal) signals.push(init.signal);
        return fetch(url, init);
      },
    });
    fake.server.enqueue(streamReply(textMessage('one')), streamReply(textMessage('two'), { stallAfter: 3 }));
    await collect(claudeStream(client, PARAMS));
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(false);

    // The same client, unsubscribed mid-stream: its fetch signal is aborted.
    const subscription = claudeStream(client, PARAMS).subscribe();
    await fake.server.waitForRequests(2);
    await sleep(20);
    subscription.unsubscribe();
    expect(signals).toHaveLength(2);
    expect(signals[1]!.aborted).toBe(true);
  });

  it('aborts when an operator downstream unsubscribes (take)', async () => {
    fake.server.enqueue(streamReply(textMessage('A long answer that never ends'), { stallAfter: 5 }));
    const events = await collect(claudeStream(fake.client, PARAMS).pipe(take(2)));
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start']);
    const request = fake.server.requests[0]!;
    await request.closed;
    expect(request.closedByClient).toBe(true);
  });

  it("aborts on the caller's signal mid-stream: IncompleteStreamError with the partial message", async () => {
    fake.server.enqueue(streamReply(textMessage('Hello there, how are you?', { chunkSize: 5 }), { stallAfter: 4 }));
    const controller = new AbortController();
    const seen: ClaudeStreamEvent[] = [];
    const error = new Promise<unknown>((resolve) =>
      claudeStream(fake.client, PARAMS, { signal: controller.signal }).subscribe({
        next: (event) => seen.push(event),
        error: resolve,
      }),
    );
    while (seen.length < 4) await sleep(5);
    const abortedAt = performance.now();
    controller.abort();
    const err = await error;
    expect(err).toBeInstanceOf(IncompleteStreamError);
    expect((err as IncompleteStreamError).cause).toBeInstanceOf(APIUserAbortError);
    expect((err as IncompleteStreamError).partial?.content).toEqual([{ type: 'text', text: 'Hello ther' }]);
    const request = fake.server.requests[0]!;
    await request.closed;
    expect(request.closedByClient).toBe(true);
    expect(request.closedAt! - abortedAt).toBeLessThan(100);
  });

  it("fails with the SDK's APIUserAbortError when the caller's signal aborts before the response", async () => {
    fake.server.enqueue(stallBeforeHeaders());
    const controller = new AbortController();
    const error = errorOf(claudeStream(fake.client, PARAMS, { signal: controller.signal }));
    const [request] = await fake.server.waitForRequests(1);
    controller.abort();
    expect(await error).toBeInstanceOf(APIUserAbortError);
    await request!.closed;
    expect(request!.closedByClient).toBe(true);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const error = await errorOf(claudeStream(fake.client, PARAMS, { signal: AbortSignal.abort() }));
    expect(error).toBeInstanceOf(APIUserAbortError);
    await sleep(20);
    expect(fake.server.requests).toHaveLength(0);
  });

  it("removes its listener from the caller's signal on teardown", async () => {
    const controller = new AbortController();
    const listeners: unknown[] = [];
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (type: string, listener: never, options?: never) => {
      listeners.push(listener);
      add(type, listener, options);
    };
    signal.removeEventListener = (type: string, listener: never, options?: never) => {
      listeners.splice(listeners.indexOf(listener), 1);
      remove(type, listener, options);
    };
    fake.server.enqueue(streamReply(textMessage('Hi')));
    await collect(claudeStream(fake.client, PARAMS, { signal }));
    expect(listeners).toEqual([]);
  });

  it('lets fifteen concurrent streams share one caller signal: no MaxListenersExceededWarning, one listener', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const signal = controller.signal;
      fake.server.respondWith(() => streamReply(textMessage('Hello there'), { stallAfter: 3 }));
      const errors = Array.from({ length: 15 }, () => errorOf(claudeStream(fake.client, PARAMS, { signal })));
      const requests = await fake.server.waitForRequests(15);
      expect(getEventListeners(signal, 'abort')).toHaveLength(1);
      controller.abort(new Error('shutting down'));
      // Every stream is aborted by the one listener: mid-stream, or (not yet answered) before its headers.
      for (const error of await Promise.all(errors)) {
        expect(error instanceof IncompleteStreamError || error instanceof APIUserAbortError).toBe(true);
      }
      await Promise.all(requests.map((request) => request.closed));
      expect(requests.every((request) => request.closedByClient)).toBe(true);
      await sleep(10); // Node emits the warning on the next tick
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('releases the shared listener when the last stream sharing the signal ends', async () => {
    const signal = new AbortController().signal;
    fake.server.respondWith(() => streamReply(textMessage('Hi')));
    await Promise.all(Array.from({ length: 12 }, () => collect(claudeStream(fake.client, PARAMS, { signal }))));
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it("reaches error with the SDK's RateLimitError on HTTP 429, headers intact", async () => {
    fake.server.enqueue(errorReply(429, { retryAfterMs: 300, retryAfterSeconds: 1 }));
    const error = await errorOf(claudeStream(fake.client, PARAMS));
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const rateLimit = error as InstanceType<typeof Anthropic.RateLimitError>;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.headers.get('retry-after-ms')).toBe('300');
    expect(rateLimit.headers.get('retry-after')).toBe('1');
    expect(rateLimit.type).toBe('rate_limit_error');
  });

  it("reaches error with the SDK's APIError and its type for a mid-stream event: error", async () => {
    fake.server.enqueue(
      streamReply(textMessage('Hello there'), {
        errorAfter: { events: 3, error: { type: 'overloaded_error', message: 'Overloaded' } },
      }),
    );
    const seen: ClaudeStreamEvent[] = [];
    const error = await new Promise((resolve) =>
      claudeStream(fake.client, PARAMS).subscribe({ next: (e) => seen.push(e), error: resolve }),
    );
    expect(seen).toHaveLength(3);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBeUndefined();
    expect((error as APIError).type).toBe('overloaded_error');
  });

  it('turns a socket reset mid-body into IncompleteStreamError with the partial message and the cause', async () => {
    fake.server.enqueue(
      streamReply(messageEvents([thinking('Hmm.', 'sig'), text('Hello there', { chunkSize: 5 })]), { resetAfter: 8 }),
    );
    const error = await errorOf(claudeStream(fake.client, PARAMS));
    expect(error).toBeInstanceOf(IncompleteStreamError);
    const incomplete = error as IncompleteStreamError;
    // undici's TypeError comes from Node's realm, not the test's: compare by name.
    expect((incomplete.cause as Error).name).toBe('TypeError');
    expect((incomplete.cause as Error).message).toBe('terminated');
    expect(incomplete.partial?.content).toEqual([
      { type: 'thinking', thinking: 'Hmm.', signature: 'sig' },
      { type: 'text', text: 'Hello ther' },
    ]);
    expect(incomplete.partial?.stop_reason).toBeNull();
  });

  it('keeps every piece of a long answer cut short: thousands of one-character deltas in each block kind', async () => {
    // Long enough that the draft joins its pieces in several chunks (it joins them every 256) and has some left over.
    const thought = Array.from({ length: 1_300 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const answer = Array.from({ length: 2_100 }, (_, i) => String(i % 10)).join('');
    const input = { path: 'notes.txt', content: 'x'.repeat(900) };
    const events = messageEvents([
      thinking(thought, 'sig', { chunkSize: 1 }),
      text(answer, { chunkSize: 1 }),
      toolUse({ id: 'toolu_1', name: 'write_file', input, chunkSize: 1 }),
    ]);
    // Cut 20 characters before the end of the tool's JSON: its input is the best-effort parse of what came.
    const cutAt = events.findIndex((e) => e.type === 'content_block_stop' && e.index === 2) - 20;
    fake.server.enqueue(streamReply(events, { resetAfter: cutAt }));
    const error = await errorOf(claudeStream(fake.client, PARAMS));
    expect(error).toBeInstanceOf(IncompleteStreamError);
    expect((error as IncompleteStreamError).partial?.content).toEqual([
      { type: 'thinking', thinking: thought, signature: 'sig' },
      { type: 'text', text: answer },
      { type: 'tool_use', id: 'toolu_1', name: 'write_file', input: { path: 'notes.txt' } },
    ]);
  });

  it('turns a clean end without message_stop into IncompleteStreamError, leaving out an unsigned thinking block', async () => {
    const events = messageEvents([thinking('Still thinking', 'sig_never_sent')]).filter(
      (e) =>
        !(e.type === 'content_block_delta' && e.delta.type === 'signature_delta') && e.type !== 'content_block_stop',
    );
    fake.server.enqueue(streamReply(events, { omitMessageStop: true }));
    const error = await errorOf(claudeStream(fake.client, PARAMS));
    expect(error).toBeInstanceOf(IncompleteStreamError);
    expect((error as IncompleteStreamError).cause).toBeUndefined();
    expect((error as IncompleteStreamError).partial?.content).toEqual([]);
  });

  it('reports IncompleteStreamError without a partial message when the body ends before message_start', async () => {
    fake.server.enqueue(streamReply([], { omitMessageStop: true }));
    const error = await errorOf(claudeStream(fake.client, PARAMS));
    expect(error).toBeInstanceOf(IncompleteStreamError);
    expect((error as IncompleteStreamError).partial).toBeUndefined();
  });

  it('never mutates params or options, and keeps the API key out of error messages', async () => {
    const params = structuredClone({ ...PARAMS, metadata: { user_id: 'u1' } });
    const options = { headers: { 'x-trace': '1' }, timeout: 10_000 };
    const snapshot = structuredClone({ params, options });
    deepFreeze(params);
    deepFreeze(options);
    fake.server.enqueue(streamReply(textMessage('ok')), errorReply(401, { message: 'invalid x-api-key' }));
    await collect(claudeStream(fake.client, params, options));
    const error = await errorOf(claudeStream(fake.client, params, options));
    expect({ params, options }).toEqual(snapshot);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    const rendered = [String(error), (error as Error).message, JSON.stringify(error), (error as Error).stack].join(
      '\n',
    );
    expect(rendered).not.toContain(TEST_API_KEY);
    // The SDK sends the key as a bearer token: it did reach the server, and nowhere else.
    expect(fake.server.requests[1]!.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
    expect(fake.server.requests[1]!.headers['x-trace']).toBe('1');
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
