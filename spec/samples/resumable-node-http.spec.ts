import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ResumableStreams } from 'claude-rx';
import { errorReply, streamReply, textMessage, type RecordedRequest } from 'claude-rx/testing';
import { createChatServer, demo, main } from '../../samples/resumable-node-http.js';
import { MODEL } from '../../samples/support/demo-client.js';
import { sleep, TEST_API_KEY, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const STORY = 'The lamp turned all night, and at dawn the whale was gone.';

/** An SSE response read as it arrives (fetch + eventsource-parser), which the test may drop at any moment. */
interface SseReading {
  readonly status: number;
  readonly headers: Headers;
  /** The events parsed so far; final once `ended` resolved. */
  readonly events: EventSourceMessage[];
  /** Every byte read. */
  readonly raw: () => string;
  /** Resolves once `count` events have arrived (rejects if the body ends first). */
  waitFor(count: number): Promise<void>;
  /** How the reading ended: the body's end, `drop()`, or the connection cut by the server. Never rejects. */
  readonly ended: Promise<'end' | 'dropped' | 'cut'>;
  /** Drops the connection, as a closed tab does; no event is taken after it. */
  drop(): void;
}

let base: string;
let app: Server | undefined;
/** What the chat server reported as unexpected failures: none, in every test. */
let failures: unknown[] = [];

async function serve(streams = new ResumableStreams()): Promise<ResumableStreams> {
  app = createChatServer({ client: fake.client, model: MODEL, streams, onError: (error) => failures.push(error) });
  await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  return streams;
}

afterEach(async () => {
  expect(failures).toEqual([]);
  failures = [];
  const closing = app;
  app = undefined;
  if (!closing) return;
  closing.closeAllConnections();
  await new Promise((resolve) => closing.close(resolve));
});

function headersFor(user: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', ...(user === undefined ? {} : { 'x-user': user }), ...extra };
}

async function openSse(path: string, init: { method?: string; headers?: Record<string, string>; body?: string }) {
  const controller = new AbortController();
  const response = await fetch(`${base}${path}`, { ...init, signal: controller.signal });
  const events: EventSourceMessage[] = [];
  let raw = '';
  let dropped = false;
  let bodyEnded = false;
  const waiters = new Set<() => void>();
  const parser = createParser({
    onEvent: (event) => {
      events.push(event);
      for (const waiter of [...waiters]) waiter();
    },
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const ended = (async (): Promise<'end' | 'dropped' | 'cut'> => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (dropped) return 'dropped';
        if (done) return 'end';
        const text = decoder.decode(value, { stream: true });
        raw += text;
        parser.feed(text);
      }
    } catch {
      return dropped ? 'dropped' : 'cut';
    } finally {
      bodyEnded = true;
      for (const waiter of [...waiters]) waiter();
    }
  })();
  const reading: SseReading = {
    status: response.status,
    headers: response.headers,
    events,
    raw: () => raw,
    ended,
    waitFor: (count) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (events.length >= count) resolve();
          else if (bodyEnded) reject(new Error(`the body ended after ${events.length} events, not ${count}`));
          else return;
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    drop: () => {
      dropped = true;
      controller.abort();
    },
  };
  return reading;
}

const ask = (user: string | undefined, q: string = 'Tell me about the whale') =>
  openSse('/chat', { method: 'POST', headers: headersFor(user), body: JSON.stringify({ q }) });

const resumeFrom = (user: string, lastEventId: string) =>
  openSse('/chat/resume', { method: 'POST', headers: headersFor(user, { 'last-event-id': lastEventId }) });

async function post(path: string, user: string | undefined, body: string, extra: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: headersFor(user, extra), body });
  return { status: response.status, text: await response.text() };
}

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, { headers });
  return { status: response.status, text: await response.text() };
}

/** The text of the `text_delta` events. */
function textOf(events: readonly EventSourceMessage[]): string {
  return events
    .filter((event) => event.event === 'content_block_delta')
    .map((event) => (JSON.parse(event.data) as { delta: { text?: string } }).delta.text ?? '')
    .join('');
}

/** The positions of the events' ids (`<stream id>.<position>`), checking that they all name `streamId`. */
function positionsOf(events: readonly EventSourceMessage[], streamId: string): number[] {
  return events.map((event) => {
    const [id, position] = (event.id ?? '').split('.');
    expect(id).toBe(streamId);
    return Number(position);
  });
}

/** Resolves with the request once the fake server's exchange is over; rejects after `ms`. */
async function closedWithin(request: RecordedRequest, ms: number): Promise<RecordedRequest> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the upstream request was still open after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([request.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return request;
}

describe('samples/resumable-node-http', () => {
  it('a dropped connection resumes with Last-Event-ID: every event once, in order; one upstream request, never aborted', async () => {
    await serve();
    fake.server.enqueue(streamReply(textMessage(STORY, { chunkSize: 4 }), { delayMs: 20 }));

    const first = await ask('ada');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const streamId = first.headers.get('x-stream-id')!;
    expect(streamId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await first.waitFor(4);
    first.drop();
    expect(await first.ended).toBe('dropped');
    const before = [...first.events];
    expect(before.length).toBeGreaterThanOrEqual(4);

    // Nobody reads for a while: the answer goes on upstream all the same.
    await sleep(100);
    const [upstream] = fake.server.requests;
    expect(upstream!.closedAt).toBeUndefined();
    const written = upstream!.eventsWritten;

    const rest = await resumeFrom('ada', before.at(-1)!.id!);
    expect(rest.status).toBe(200);
    expect(await rest.ended).toBe('end');
    const all = [...before, ...rest.events];

    expect(upstream!.eventsWritten).toBeGreaterThan(written);
    expect(positionsOf(all, streamId)).toEqual(all.map((_, index) => index + 1));
    expect(all.map((event) => event.event)).toEqual([
      'message_start',
      'content_block_start',
      ...Array<string>(Math.ceil(STORY.length / 4)).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
      'done',
    ]);
    expect(textOf(all)).toBe(STORY);

    await upstream!.closed;
    expect(fake.server.requests).toHaveLength(1);
    expect(upstream!).toMatchObject({ completed: true, closedByClient: false });
    expect(upstream!.body).toMatchObject({
      model: MODEL,
      messages: [{ role: 'user', content: 'Tell me about the whale' }],
    });

    // The id of the final event: nothing more to send, and 204 tells an EventSource to stop reconnecting.
    const done = await post('/chat/resume', 'ada', '', { 'last-event-id': all.at(-1)!.id! });
    expect(done).toEqual({ status: 204, text: '' });
    const viaGet = await get('/chat', { 'x-user': 'ada', 'last-event-id': all.at(-1)!.id! });
    expect(viaGet).toEqual({ status: 204, text: '' });
    expect(fake.server.requests).toHaveLength(1);
  });

  it('an EventSource-style GET /chat with Last-Event-ID resumes too, and a POST /chat carrying one starts nothing', async () => {
    await serve();
    fake.server.enqueue(streamReply(textMessage(STORY, { chunkSize: 8 }), { delayMs: 10 }));
    const first = await ask('ada');
    await first.waitFor(2);
    first.drop();
    await first.ended;

    const rest = await openSse('/chat', { headers: { 'x-user': 'ada', 'last-event-id': first.events.at(-1)!.id! } });
    expect(rest.status).toBe(200);
    expect(await rest.ended).toBe('end');
    expect(textOf([...first.events, ...rest.events])).toBe(STORY);
    expect(rest.events.at(-1)!.event).toBe('done');

    const again = await post('/chat', 'ada', JSON.stringify({ q: 'Another one' }), {
      'last-event-id': rest.events.at(-1)!.id!,
    });
    expect(again).toEqual({ status: 204, text: '' });
    expect(fake.server.requests).toHaveLength(1);
  });

  it('when nobody comes back, the upstream request is aborted after graceMs (500 ms), not before', async () => {
    await serve(new ResumableStreams({ graceMs: 500 }));
    fake.server.enqueue(streamReply(textMessage(STORY, { chunkSize: 4 }), { stallAfter: 3 }));

    const first = await ask('ada');
    await first.waitFor(2);
    const droppedAt = performance.now();
    first.drop();
    await first.ended;
    const [upstream] = await fake.server.waitForRequests(1);

    await sleep(300);
    expect(upstream!.closedAt).toBeUndefined();

    await closedWithin(upstream!, 2_000);
    expect(upstream!.closedByClient).toBe(true);
    expect(upstream!.completed).toBe(false);
    expect(upstream!.closedAt! - droppedAt).toBeGreaterThanOrEqual(480);
    expect(upstream!.closedAt! - droppedAt).toBeLessThan(1_500);

    // Coming back later still reads the end of it: the stream says why it stopped.
    const rest = await resumeFrom('ada', first.events.at(-1)!.id!);
    expect(await rest.ended).toBe('end');
    expect(rest.events.at(-1)).toMatchObject({ event: 'stopped', data: '{"reason":"no_reader"}' });
    expect(fake.server.requests).toHaveLength(1);
  });

  it('POST /chat/stop from another request aborts the upstream request within 1 s; the reader ends with `stopped`', async () => {
    await serve();
    fake.server.enqueue(streamReply(textMessage(STORY, { chunkSize: 4 }), { stallAfter: 3 }));
    const reading = await ask('ada');
    await reading.waitFor(3);
    const [upstream] = fake.server.requests;
    const eventId = reading.events[0]!.id!;

    // Another user cannot stop it (and is not told it exists).
    expect(await post('/chat/stop', 'bob', JSON.stringify({ id: eventId }))).toEqual({
      status: 200,
      text: '{"stopped":false}',
    });
    await sleep(50);
    expect(upstream!.closedAt).toBeUndefined();

    const stoppedAt = performance.now();
    expect(await post('/chat/stop', 'ada', JSON.stringify({ id: eventId }))).toEqual({
      status: 200,
      text: '{"stopped":true}',
    });
    await closedWithin(upstream!, 1_000);
    expect(upstream!.closedByClient).toBe(true);
    expect(upstream!.closedAt! - stoppedAt).toBeLessThan(1_000);

    expect(await reading.ended).toBe('end');
    expect(reading.events.at(-1)).toMatchObject({ event: 'stopped', data: '{"reason":"stop"}' });
    expect(reading.raw()).toMatch(/event: stopped\ndata: \{"reason":"stop"\}\n\n$/);
    expect(positionsOf(reading.events, reading.headers.get('x-stream-id')!)).toEqual([1, 2, 3, 4]);

    // By its stream id too; it is over now.
    expect(await post('/chat/stop', 'ada', JSON.stringify({ id: reading.headers.get('x-stream-id') }))).toEqual({
      status: 200,
      text: '{"stopped":false}',
    });
    expect(await post('/chat/stop', 'ada', JSON.stringify({ id: 'not-an-id' }))).toEqual({
      status: 400,
      text: '{"error":"id must be a stream id or an event id"}',
    });
  });

  it('refuses another user’s resume (404), a malformed id (400), and a GET without Last-Event-ID (400, nothing upstream)', async () => {
    await serve();
    expect(await get('/chat', { 'x-user': 'ada' })).toEqual({
      status: 400,
      text: '{"error":"Last-Event-ID is required"}',
    });
    expect(await post('/chat/resume', 'ada', '')).toMatchObject({ status: 400 });
    expect(await get('/chat', { 'x-user': 'ada', 'last-event-id': 'nope' })).toEqual({ status: 400, text: '' });
    expect(await post('/chat/resume', 'ada', '', { 'last-event-id': 'nope.1' })).toEqual({ status: 400, text: '' });
    // Well-formed, but no such stream.
    expect(await post('/chat/resume', 'ada', '', { 'last-event-id': 'AAAAAAAAAAAAAAAAAAAAAA.1' })).toEqual({
      status: 404,
      text: '',
    });
    await sleep(50);
    expect(fake.server.requests).toHaveLength(0);

    fake.server.enqueue(streamReply(textMessage(STORY, { chunkSize: 8 })));
    const answer = await ask('ada');
    await answer.ended;
    const firstId = answer.events[0]!.id!;

    expect(await post('/chat/resume', 'bob', '', { 'last-event-id': firstId })).toEqual({ status: 404, text: '' });
    expect(await get('/chat', { 'x-user': 'bob', 'last-event-id': firstId })).toEqual({ status: 404, text: '' });
    // The same id, for its owner: the rest of the answer.
    const own = await resumeFrom('ada', firstId);
    await own.ended;
    expect(own.events.map((event) => event.id)).toEqual(answer.events.slice(1).map((event) => event.id));
    expect(fake.server.requests).toHaveLength(1);
  });

  it('answers bad bodies with 400, no user with 401, too many answers with 429, other routes with 404; nothing upstream', async () => {
    await serve(new ResumableStreams({ maxStreamsPerOwner: 1 }));
    expect(await post('/chat', 'ada', '{"q":')).toEqual({ status: 400, text: '{"error":"the body must be JSON"}' });
    expect(await post('/chat', 'ada', '[]')).toMatchObject({ status: 400 });
    expect(await post('/chat', 'ada', '{}')).toEqual({ status: 400, text: '{"error":"q must be a non-empty string"}' });
    expect(await post('/chat', 'ada', '{"q":42}')).toMatchObject({ status: 400 });
    expect(await post('/chat', undefined, '{"q":"hi"}')).toMatchObject({ status: 401 });
    expect(await post('/chat/stop', 'ada', '{"q":')).toMatchObject({ status: 400 });
    expect(await post('/chat/stop', 'ada', '{}')).toMatchObject({ status: 400 });
    expect(await get('/chat/stop')).toEqual({ status: 404, text: '{"error":"not found"}' });
    expect(await post('/chats', 'ada', '{"q":"hi"}')).toMatchObject({ status: 404 });
    expect(await post('/', 'ada', '{"q":"hi"}')).toMatchObject({ status: 404 });
    await sleep(50);
    expect(fake.server.requests).toHaveLength(0);

    fake.server.enqueue(streamReply(textMessage(STORY), { stallAfter: 2 }));
    const running = await ask('ada');
    await running.waitFor(1);
    expect(await post('/chat', 'ada', '{"q":"and another"}')).toEqual({
      status: 429,
      text: '{"error":"too many answers in progress"}',
    });
    // Another user has a quota of their own.
    fake.server.enqueue(streamReply(textMessage('Hi Bob')));
    const bobs = await ask('bob');
    await bobs.ended;
    expect(textOf(bobs.events)).toBe('Hi Bob');
    expect(fake.server.requests).toHaveLength(2);

    expect(await post('/chat/stop', 'ada', JSON.stringify({ id: running.events[0]!.id }))).toMatchObject({
      status: 200,
    });
    await running.ended;
  });

  it('sends an upstream failure as the fixed `error` event: no API key, upstream header or message', async () => {
    await serve();
    fake.server.enqueue(errorReply(401, { message: `invalid x-api-key ${TEST_API_KEY}` }));

    const reading = await ask('ada');
    expect(await reading.ended).toBe('end');

    expect(reading.status).toBe(200);
    expect(reading.events.map((event) => event.event)).toEqual(['error']);
    expect(JSON.parse(reading.events[0]!.data)).toEqual({
      type: 'upstream_error',
      message: 'The request to Claude failed.',
      retryable: false,
    });
    const raw = reading.raw();
    expect(raw).not.toContain(TEST_API_KEY);
    expect(raw).not.toContain('x-api-key');
    expect(raw).not.toContain(fake.server.lastRequest!.requestId);
    expect(raw).not.toMatch(/\bat .+:\d+:\d+/);
    for (const name of reading.headers.keys()) expect(name).not.toMatch(/request-id|api-key|anthropic/);
  });

  it('main serves the chat until stopped, then closes the connections and aborts the generation', async () => {
    demo(fake.server);
    const lines: string[] = [];
    const stop = new AbortController();
    const running = main(fake.client, { port: 0, log: (line) => lines.push(line), stop: stop.signal });
    try {
      for (let tries = 0; lines.length === 0 && tries < 200; tries++) await sleep(10);
      base = /http:\/\/127\.0\.0\.1:\d+/.exec(lines[0] ?? '')![0];

      const reading = await ask('ada', 'Tell me a story');
      await reading.waitFor(3);
      expect(reading.events[2]!.event).toBe('content_block_delta');
      stop.abort();
      await running;
      expect(await reading.ended).toBe('cut');
    } finally {
      // A failed test must not leave the server listening (it would hold jest open).
      stop.abort();
      await running;
    }

    const [upstream] = fake.server.requests;
    await closedWithin(upstream!, 1_000);
    expect(upstream!.closedByClient).toBe(true);
    expect(lines.join('\n')).toContain('/chat/resume');
    await expect(fetch(`${base}/chat`)).rejects.toThrow();
  });
});
