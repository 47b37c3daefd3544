import { jest } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import {
  FakeClaudeServer,
  errorReply,
  stallBeforeHeaders,
  streamReply,
  textMessage,
  type RecordedRequest,
} from 'claude-rx/testing';
import type { ClaudeStreamModuleOptions } from 'claude-rx/nest';
import { API_KEY, FORGING_TEXT, MODEL, SCRIPT, eventsOfClaudeStream } from './support/fixtures.js';
import { startApp, type AdapterName, type TestApp } from './support/nest-app.js';
import { eventWhere, openSse, readSse, readWithEventSource, type SseRead } from './support/sse-client.js';

// Some tests here assert that an abort reaches the server within a bound (the 100 or 200 ms). The whole
// suite runs in one process on two cores: a garbage collection or a neighbour's burst can stretch one measurement.
// A failed test is run again, twice at most; a real regression fails every time.
jest.retryTimes(2, { logErrorsBeforeRetry: true });

let server: FakeClaudeServer;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
});
afterEach(() => server.reset());
afterAll(() => server.close());

function moduleOptions(overrides: ClaudeStreamModuleOptions = {}): ClaudeStreamModuleOptions {
  return {
    apiKey: API_KEY,
    baseURL: server.url,
    clientOptions: { maxRetries: 0 },
    defaults: { model: MODEL, max_tokens: 64 },
    retry: false,
    sse: { heartbeatMs: 10 },
    ...overrides,
  };
}

/** The events as a client parsed them, without the final `done`; fails if `done` is not last. */
function streamEventsOf(events: readonly { type?: string; event?: string; data: string }[]): unknown[] {
  const names = events.map((event) => event.type ?? event.event);
  expect(names.at(-1)).toBe('done');
  return events.slice(0, -1).map((event) => ({ type: event.type ?? event.event, data: JSON.parse(event.data) }));
}

function expectIncreasingIds(ids: readonly (string | undefined)[]): void {
  const numbers = ids.map(Number);
  expect(numbers.every(Number.isInteger)).toBe(true);
  numbers.slice(1).forEach((id, i) => expect(id).toBeGreaterThan(numbers[i]!));
}

/** Waits (2 s at most) for the upstream request to end and returns how long after `since` it did. */
async function closedAfter(request: RecordedRequest, since: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the upstream request is still open after 2 s')), 2_000);
  });
  await Promise.race([request.closed, giveUp]).finally(() => clearTimeout(timer));
  expect(request.closedByClient).toBe(true);
  return request.closedAt! - since;
}

function textOf(events: readonly { data: string }[]): string {
  return events
    .map((event) => JSON.parse(event.data) as { delta?: { type: string; text?: string } })
    .filter((event) => event.delta?.type === 'text_delta')
    .map((event) => event.delta!.text)
    .join('');
}

describe.each<AdapterName>(['express', 'fastify'])('@Sse() routes on %s', (adapter) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(adapter, moduleOptions());
  });
  afterAll(() => t.app.close());

  describe('streaming', () => {
    it('GET, read with EventSource: the events claudeStream yields, in order, with increasing ids, then done', async () => {
      server.respondWith(() => streamReply(SCRIPT));
      const expected = await eventsOfClaudeStream(server);

      const events = await readWithEventSource(`${t.url}/chat/stream?q=${encodeURIComponent('Hi there')}`);

      expect(streamEventsOf(events)).toEqual(expected.map((event) => ({ type: event.type, data: event })));
      expectIncreasingIds(events.map((event) => event.lastEventId));
      // The model's text arrived whole, as text: it forged no frame.
      expect(textOf(events)).toBe(FORGING_TEXT);
      expect(server.lastRequest?.body).toMatchObject({
        model: MODEL,
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'Hi there' }],
      });
    });

    it('POST, read with fetch and eventsource-parser: the same events, the prompt from the body', async () => {
      server.respondWith(() => streamReply(SCRIPT));
      const expected = await eventsOfClaudeStream(server);

      const read = await readSse(`${t.url}/chat/stream`, { method: 'POST', body: { q: 'From the body' } });

      expect(read.status).toBe(200);
      expect(read.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(streamEventsOf(read.events)).toEqual(expected.map((event) => ({ type: event.type, data: event })));
      expectIncreasingIds(read.events.map((event) => event.id));
      expect(textOf(read.events)).toBe(FORGING_TEXT);
      expect(server.lastRequest?.body?.['messages']).toEqual([{ role: 'user', content: 'From the body' }]);
    });

    it('the bare handler of the issue (no signal) streams the same', async () => {
      server.respondWith(() => streamReply(SCRIPT));
      const expected = await eventsOfClaudeStream(server);

      const events = await readWithEventSource(`${t.url}/chat/plain?q=plain`);

      expect(streamEventsOf(events)).toEqual(expected.map((event) => ({ type: event.type, data: event })));
    });

    it('writes heartbeat comments while a slow upstream says nothing', async () => {
      server.enqueue(streamReply(textMessage('slow', { chunkSize: 1 }), { delayMs: 40 }));

      const read = await readSse(`${t.url}/chat/stream?q=slow`);

      expect(read.comments.length).toBeGreaterThan(0);
      expect(new Set(read.comments)).toEqual(new Set(['heartbeat']));
      expect(textOf(read.events)).toBe('slow');
      expect(read.events.at(-1)?.event).toBe('done');
    });

    it('sends only the events asked for: text and thinking deltas', async () => {
      server.enqueue(streamReply(SCRIPT));

      const read = await readSse(`${t.url}/chat/stream`, {
        method: 'POST',
        body: { q: 'deltas only', events: ['text_delta', 'thinking_delta'] },
      });

      const kinds = read.events.map((event) =>
        event.event === 'done' ? 'done' : (JSON.parse(event.data) as { delta: { type: string } }).delta.type,
      );
      expect(new Set(kinds)).toEqual(new Set(['thinking_delta', 'text_delta', 'done']));
      expect(kinds.at(-1)).toBe('done');
      expect(textOf(read.events)).toBe(FORGING_TEXT);
    });
  });

  describe('disconnects', () => {
    it('closing an EventSource mid-stream aborts the upstream request within 200 ms', async () => {
      server.enqueue(streamReply(SCRIPT, { stallAfter: 4 }));
      let closedAt = 0;

      await readWithEventSource(`${t.url}/chat/stream?q=bye`, (event) => {
        if (event.type !== 'content_block_start') return undefined;
        closedAt = performance.now();
        return 'close';
      });

      expect(await closedAfter(server.lastRequest!, closedAt)).toBeLessThan(200);
    });

    it('closing a POST stream mid-stream aborts the upstream request within 200 ms', async () => {
      server.enqueue(streamReply(SCRIPT, { stallAfter: 4 }));
      const first = eventWhere(() => true);
      const read = await openSse(`${t.url}/chat/stream`, {
        method: 'POST',
        body: { q: 'bye' },
        onEvent: first.onEvent,
      });
      await first.arrived;

      const closedAt = performance.now();
      read.close();

      expect(await closedAfter(server.lastRequest!, closedAt)).toBeLessThan(200);
    });

    it.each([
      ['GET with @SseSignal()', 'GET' as const],
      ['POST with @ClientAbortSignal()', 'POST' as const],
    ])(
      'a client that leaves during set-up (%s) aborts the stalled upstream request within 200 ms',
      async (_, method) => {
        server.enqueue(stallBeforeHeaders());
        const client = new AbortController();
        const response = openSse(`${t.url}/chat/stream${method === 'GET' ? '?q=wait' : ''}`, {
          method,
          ...(method === 'POST' ? { body: { q: 'wait' } } : {}),
          signal: client.signal,
        }).catch((error: unknown) => error);
        const [request] = await server.waitForRequests(1);

        const closedAt = performance.now();
        client.abort();

        expect(await closedAfter(request!, closedAt)).toBeLessThan(200);
        expect(await response).toMatchObject({ name: 'AbortError' });
      },
    );
  });

  describe('failures', () => {
    async function failedResponse(path: string): Promise<{ read: SseRead; body: Record<string, unknown> }> {
      const read = await readSse(`${t.url}${path}`);
      const everything = `${JSON.stringify([...read.headers])}${read.raw}`;
      expect(everything).not.toContain(API_KEY);
      return { read, body: JSON.parse(read.raw) as Record<string, unknown> };
    }

    it('an upstream 429 before the first event is a 429 with Retry-After, and holds the next call', async () => {
      // An app of its own: the 429's hold (the shared backoff) would otherwise hold the other tests' calls.
      const own = await startApp(adapter, moduleOptions());
      try {
        server.enqueue(errorReply(429, { retryAfterSeconds: 7, message: `Rate limited (key ${API_KEY})` }));
        const first = await readSse(`${own.url}/chat/stream?q=busy`);
        expect(first.status).toBe(429);
        expect(first.headers.get('retry-after')).toBe('7');
        expect(JSON.parse(first.raw)).toMatchObject({ statusCode: 429, type: 'rate_limit_error', retryable: true });

        // Within the 7 s, with `retry: false` (no wait allowed): answered at once, nothing sent upstream.
        const second = await readSse(`${own.url}/chat/stream?q=again`);
        expect(second.status).toBe(429);
        expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(6);
        expect(Number(second.headers.get('retry-after'))).toBeLessThanOrEqual(7);
        expect(`${JSON.stringify([...second.headers])}${second.raw}`).not.toContain(API_KEY);
        expect(server.requests).toHaveLength(1);
      } finally {
        await own.app.close();
      }
    });

    it('an upstream 529 before the first event is a 503', async () => {
      server.enqueue(errorReply(529, { message: `Overloaded (key ${API_KEY})` }));

      const { read, body } = await failedResponse('/chat/stream?q=busy');

      expect(read.status).toBe(503);
      expect(body).toMatchObject({ statusCode: 503, type: 'overloaded_error', retryable: true });
    });

    it('an upstream 401 is a 502 that does not say why the key was refused', async () => {
      server.enqueue(errorReply(401, { message: `invalid x-api-key ${API_KEY}` }));

      const { read, body } = await failedResponse('/chat/stream?q=who');

      expect(read.status).toBe(502);
      expect(body).toMatchObject({ statusCode: 502, type: 'upstream_error', retryable: false });
      expect(read.raw).not.toMatch(/key|auth|401/i);
    });

    it('an overload mid-stream is one sanitized error event, and the stream ends', async () => {
      server.enqueue(
        streamReply(textMessage('Hello there, how are you?', { chunkSize: 3 }), {
          errorAfter: { events: 4, error: { type: 'overloaded_error', message: `Overloaded for ${API_KEY}` } },
        }),
      );

      const read = await readSse(`${t.url}/chat/stream?q=mid`);

      expect(read.status).toBe(200);
      expect(read.raw).not.toContain(API_KEY);
      expect(read.events.map((event) => event.event)).toEqual([
        'message_start',
        'content_block_start',
        'content_block_delta',
        'content_block_delta',
        'error',
      ]);
      expect(JSON.parse(read.events.at(-1)!.data)).toEqual({
        type: 'overloaded_error',
        message: expect.any(String),
        retryable: true,
      });
      expectIncreasingIds(read.events.map((event) => event.id));
    });
  });
});

describe('the bare handler of the issue (no signal)', () => {
  it('a client gone during set-up: the upstream request is aborted once it answers and Nest does not subscribe', async () => {
    const t = await startApp('express', moduleOptions({ sse: { subscribeTimeoutMs: 50 } }));
    try {
      server.enqueue(streamReply(SCRIPT, { delayMs: 150 }));
      const client = new AbortController();
      const response = openSse(`${t.url}/chat/plain?q=gone`, { signal: client.signal }).catch(
        (error: unknown) => error,
      );
      const [request] = await server.waitForRequests(1);

      client.abort();

      expect(await response).toMatchObject({ name: 'AbortError' });
      await request!.closed;
      expect(request!.closedByClient).toBe(true);
      expect(request!.completed).toBe(false);
    } finally {
      await t.app.close();
    }
  });
});

describe.each<AdapterName>(['express', 'fastify'])('app.close() on %s', (adapter) => {
  it('ends the open streams, aborting their upstream requests, and does not hang', async () => {
    // Without forceCloseConnections, closing the server would wait for the streams: only the module ends them.
    const t = await startApp(adapter, moduleOptions(), { forceCloseConnections: false });
    server.enqueue(streamReply(SCRIPT, { stallAfter: 4 }), stallBeforeHeaders());
    const first = eventWhere(() => true);
    const streaming = await openSse(`${t.url}/chat/stream?q=one`, { onEvent: first.onEvent });
    await first.arrived;
    const settingUp = readSse(`${t.url}/chat/stream?q=two`);
    const [streamRequest, setUpRequest] = await server.waitForRequests(2);

    const closedAt = performance.now();
    await t.app.close();

    expect(await closedAfter(streamRequest!, closedAt)).toBeLessThan(200);
    expect(await closedAfter(setUpRequest!, closedAt)).toBeLessThan(200);
    await streaming.ended;
    expect(streaming.events.at(-1)?.event).toBe('error');
    expect(JSON.parse(streaming.events.at(-1)!.data)).toMatchObject({ type: 'server_shutdown', retryable: true });
    expect((await settingUp).status).toBe(503);
  });
});
