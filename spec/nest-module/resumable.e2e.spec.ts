import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventSource, type EventSourceFetchInit } from 'eventsource';
import type { EventSourceMessage } from 'eventsource-parser';
import type { ClaudeStreamModuleOptions } from 'claude-rx/nest';
import {
  FakeClaudeServer,
  errorReply,
  streamReply,
  textMessage,
  toolUseMessage,
  type RecordedRequest,
} from 'claude-rx/testing';
import { CuttableProxy } from '../support/cuttable-proxy.js';
import { API_KEY, MODEL } from './support/fixtures.js';
import { OWNER_HEADER, startResumableApp, type AdapterName, type ResumableApp } from './support/resumable-app.js';
import { eventWhere, openSse, type SseRead } from './support/sse-client.js';

// Resume mode end to end: a real Nest app, real HTTP clients (fetch + eventsource-parser, and the `eventsource`
// package), the real SDK against the fake Claude server. Each test asserts what the client got and what the upstream
// saw: how many requests, and whether each completed or was aborted.

let server: FakeClaudeServer;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
});
afterAll(() => server.close());

let t: ResumableApp | undefined;
/** Clients and proxies a test opened, closed after it whatever happened. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await t?.app.close();
  t = undefined;
  server.reset();
});

const OTHER_MODEL = 'claude-other-model';
const REPLY_TEXT = 'Resumable streams give every event once, in order, across connections.';
const EVENT_ID = /^([A-Za-z0-9_-]{22})\.([1-9][0-9]*)$/;

function moduleOptions(overrides: ClaudeStreamModuleOptions = {}): ClaudeStreamModuleOptions {
  return {
    apiKey: API_KEY,
    baseURL: server.url,
    clientOptions: { maxRetries: 0 },
    defaults: { model: MODEL, max_tokens: 64 },
    retry: false,
    sse: { heartbeatMs: false },
    resume: { graceMs: 5_000 },
    ...overrides,
  };
}

async function start(
  overrides: ClaudeStreamModuleOptions = {},
  adapter: AdapterName = 'express',
): Promise<ResumableApp> {
  t = await startResumableApp(moduleOptions(overrides), adapter);
  return t;
}

/** `openSse`, closed after the test if it is still open. */
async function openStream(url: string, init: Parameters<typeof openSse>[1] = {}): Promise<SseRead> {
  const read = await openSse(url, init);
  cleanups.push(() => read.close());
  return read;
}

/** Opens an SSE response and reads it to its end. */
async function readStream(url: string, init: Parameters<typeof openStream>[1] = {}): Promise<SseRead> {
  const read = await openStream(url, init);
  await read.ended;
  return read;
}

/** Opens a stream and closes it once `count` events have arrived; resolves with what it read, and when it closed. */
async function readThenDrop(
  url: string,
  count: number,
  init: Parameters<typeof openStream>[1] = {},
): Promise<{ read: SseRead; droppedAt: number }> {
  let seen = 0;
  const enough = eventWhere(() => ++seen === count);
  const read = await openStream(url, { ...init, onEvent: enough.onEvent });
  expect(read.status).toBe(200);
  await enough.arrived;
  const droppedAt = performance.now();
  read.close();
  await read.ended;
  return { read, droppedAt };
}

const as = (owner: string): Record<string, string> => ({ [OWNER_HEADER]: owner });
const resumingAs = (owner: string | undefined, lastEventId: string): Record<string, string> => ({
  ...(owner === undefined ? {} : as(owner)),
  'last-event-id': lastEventId,
});

function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function stop(id: string, owner?: string): Promise<{ status: number; stopped?: boolean }> {
  const response = await postJson(`${t!.url}/chat/stop`, { id }, owner === undefined ? {} : as(owner));
  const body = (await response.json()) as { stopped?: boolean };
  return { status: response.status, ...(response.status === 200 ? { stopped: body.stopped } : {}) };
}

/** The stream id and the position of an event id; fails the test if it is not `<22-char stream id>.<position>`. */
function parseId(id: string | undefined): { streamId: string; position: number } {
  const match = EVENT_ID.exec(id ?? '');
  if (!match) throw new Error(`not an event id of a resumable stream: ${JSON.stringify(id)}`);
  return { streamId: match[1]!, position: Number(match[2]) };
}

/** Asserts the events are positions `from`, `from + 1`, ... of one stream, and returns its id. */
function expectContiguous(events: readonly EventSourceMessage[], from = 1): string {
  const ids = events.map((event) => parseId(event.id));
  const streamId = ids[0]!.streamId;
  expect(ids.map((id) => id.streamId)).toEqual(ids.map(() => streamId));
  expect(ids.map((id) => id.position)).toEqual(ids.map((_, index) => from + index));
  return streamId;
}

function namesOf(events: readonly EventSourceMessage[]): (string | undefined)[] {
  return events.map((event) => event.event);
}

function textOf(events: readonly { event?: string | undefined; data: string }[]): string {
  return events
    .filter((event) => event.event === 'content_block_delta')
    .map((event) => JSON.parse(event.data) as { delta: { type: string; text?: string } })
    .filter((event) => event.delta.type === 'text_delta')
    .map((event) => event.delta.text)
    .join('');
}

/** Resolves when `promise` does, or rejects after `ms` naming `what`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Waits for the upstream request to end and asserts that it completed, never aborted. */
async function expectCompleted(request: RecordedRequest | undefined): Promise<void> {
  await within(request!.closed, 5_000, 'the upstream request to end');
  expect(request).toMatchObject({ completed: true, closedByClient: false });
}

/** An SSE response that is not one: a plain HTTP answer with no event in it. */
async function expectNoStream(response: Response, status: number): Promise<string> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type') ?? '').not.toMatch(/text\/event-stream/);
  const body = await response.text();
  expect(body).not.toMatch(/^(id|event|data):/m);
  return body;
}

function forgedEventId(position = 3): string {
  return `${randomBytes(16).toString('base64url')}.${position}`;
}

describe('resume mode: a dropped client resumes by Last-Event-ID', () => {
  it.each<[AdapterName, 'GET' | 'POST']>([
    ['express', 'GET'],
    ['express', 'POST'],
    ['fastify', 'GET'],
    ['fastify', 'POST'],
  ])(
    '%s, %s: every event once, in order, across the two connections; one upstream request, completed',
    async (adapter, method) => {
      const app = await start({}, adapter);
      server.enqueue(streamReply(textMessage(REPLY_TEXT, { chunkSize: 4 }), { delayMs: 15 }));
      const url = method === 'GET' ? `${app.url}/chat/stream?q=hello` : `${app.url}/chat/stream`;
      const body = method === 'GET' ? undefined : { q: 'hello' };

      const { read: first } = await readThenDrop(url, 4, { method, body, headers: as('alice') });
      const lastSeen = first.events.at(-1)!.id!;
      const second = await readStream(url, { method, body, headers: resumingAs('alice', lastSeen) });

      expect(second.status).toBe(200);
      // Dropped mid-answer: the first connection did not see the end.
      expect(namesOf(first.events)).not.toContain('done');
      const all = [...first.events, ...second.events];
      expectContiguous(all);
      expect(namesOf(all).filter((name) => name === 'done')).toHaveLength(1);
      expect(all.at(-1)?.event).toBe('done');
      expect(textOf(all)).toBe(REPLY_TEXT);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]!.body?.['messages']).toEqual([{ role: 'user', content: 'hello' }]);
      await expectCompleted(server.requests[0]);
    },
  );
});

describe('resume mode: the grace', () => {
  it('nobody comes back: upstream goes on for graceMs after the drop, then is aborted', async () => {
    const graceMs = 600;
    const app = await start({ resume: { graceMs } });
    server.enqueue(streamReply(textMessage(REPLY_TEXT), { stallAfter: 4 }));

    const { droppedAt } = await readThenDrop(`${app.url}/chat/stream?q=bye`, 2, { headers: as('alice') });
    const [request] = server.requests;

    await sleep(400);
    expect(request!.closedAt).toBeUndefined();
    await within(request!.closed, graceMs + 1_000 - 400, 'the grace to abort the upstream request');
    expect(request!.closedByClient).toBe(true);
    expect(request!.closedAt! - droppedAt).toBeGreaterThanOrEqual(graceMs - 30);
    expect(server.requests).toHaveLength(1);
  });

  it('a reader back within the grace keeps the stream alive past graceMs: upstream completes', async () => {
    const graceMs = 600;
    const app = await start({ resume: { graceMs } });
    // About 1.4 s of answer: it outlives the grace that a drop at its start would have.
    server.enqueue(streamReply(textMessage(REPLY_TEXT, { chunkSize: 2 }), { delayMs: 35 }));

    const { read: first, droppedAt } = await readThenDrop(`${app.url}/chat/stream?q=back`, 3, {
      headers: as('alice'),
    });
    await sleep(300);
    const second = await readStream(`${app.url}/chat/resume`, {
      method: 'POST',
      headers: resumingAs('alice', first.events.at(-1)!.id!),
    });

    expect(second.status).toBe(200);
    const all = [...first.events, ...second.events];
    expectContiguous(all);
    expect(all.at(-1)?.event).toBe('done');
    expect(textOf(all)).toBe(REPLY_TEXT);
    const [request] = server.requests;
    await expectCompleted(request);
    expect(request!.closedAt! - droppedAt).toBeGreaterThan(graceMs);
    expect(server.requests).toHaveLength(1);
  });

  it('aborted by the grace, then resumed within ttlMs: the rest of what was stored, then stopped (no_reader)', async () => {
    const graceMs = 500;
    const app = await start({ resume: { graceMs } });
    // 15 events over ~300 ms, then nothing: most of them arrive after the drop, with no reader attached.
    server.enqueue(streamReply(textMessage(REPLY_TEXT, { chunkSize: 2 }), { delayMs: 20, stallAfter: 15 }));

    const { read: first } = await readThenDrop(`${app.url}/chat/stream?q=gone`, 3, { headers: as('alice') });
    const [request] = server.requests;
    await within(request!.closed, graceMs + 1_500, 'the grace to abort the upstream request');
    expect(request!.closedByClient).toBe(true);

    const second = await readStream(`${app.url}/chat/resume`, {
      method: 'POST',
      headers: resumingAs('alice', first.events.at(-1)!.id!),
    });

    expect(second.status).toBe(200);
    const all = [...first.events, ...second.events];
    expectContiguous(all);
    // Every event the upstream wrote was stored, once; the final one says why the stream ended.
    expect(all).toHaveLength(request!.eventsWritten + 1);
    expect(second.events.length).toBeGreaterThan(1);
    expect(all.at(-1)).toMatchObject({ event: 'stopped' });
    expect(JSON.parse(all.at(-1)!.data)).toEqual({ reason: 'no_reader' });
    expect(namesOf(all)).not.toContain('done');
    // Its final id: nothing more to resume.
    const after = await fetch(`${app.url}/chat/resume`, {
      method: 'POST',
      headers: resumingAs('alice', all.at(-1)!.id!),
    });
    expect(after.status).toBe(204);
    expect(server.requests).toHaveLength(1);
  });
});

describe('resume mode: stop()', () => {
  it.each([
    ['an event id', (eventId: string) => eventId],
    ['the stream id', (eventId: string) => parseId(eventId).streamId],
  ])('by %s from another request: upstream aborted within 1 s, every reader ends with stopped', async (_, idToStop) => {
    const app = await start();
    server.enqueue(streamReply(textMessage(REPLY_TEXT), { stallAfter: 4 }));
    const firstArrived = eventWhere(() => true);
    const original = await openStream(`${app.url}/chat/stream?q=stop`, {
      headers: as('alice'),
      onEvent: firstArrived.onEvent,
    });
    const firstId = (await firstArrived.arrived).id!;
    const secondArrived = eventWhere(() => true);
    const resumer = await openStream(`${app.url}/chat/resume`, {
      method: 'POST',
      headers: resumingAs('alice', firstId),
      onEvent: secondArrived.onEvent,
    });
    expect(resumer.status).toBe(200);
    await secondArrived.arrived;

    const stoppedAt = performance.now();
    expect(await stop(idToStop(firstId), 'alice')).toEqual({ status: 200, stopped: true });

    const [request] = server.requests;
    await within(request!.closed, 1_000, 'the stop to abort the upstream request');
    expect(request!.closedByClient).toBe(true);
    expect(request!.closedAt! - stoppedAt).toBeLessThan(1_000);
    await within(Promise.all([original.ended, resumer.ended]), 2_000, 'the readers to end');
    for (const [read, from] of [
      [original, 1],
      [resumer, 2],
    ] as const) {
      expectContiguous(read.events, from);
      expect(read.events.at(-1)?.event).toBe('stopped');
      expect(JSON.parse(read.events.at(-1)!.data)).toEqual({ reason: 'stop' });
    }
    expect(resumer.events.at(-1)!.id).toBe(original.events.at(-1)!.id);

    expect(await stop(idToStop(firstId), 'alice')).toEqual({ status: 200, stopped: false });
    expect(await stop(forgedEventId(), 'alice')).toEqual({ status: 200, stopped: false });
    expect(await stop(parseId(forgedEventId()).streamId, 'alice')).toEqual({ status: 200, stopped: false });
    expect((await stop('not-an-id', 'alice')).status).toBe(400);
    expect((await stop(`${parseId(firstId).streamId}.01`, 'alice')).status).toBe(400);
    expect(server.requests).toHaveLength(1);
  });
});

describe('resume mode: the answer table', () => {
  it("another owner's live stream: resume is 404 with no event, stop is false, and the stream runs on", async () => {
    const app = await start();
    server.enqueue(streamReply(textMessage(REPLY_TEXT), { stallAfter: 4 }));
    const firstArrived = eventWhere(() => true);
    const alice = await openStream(`${app.url}/chat/stream?q=mine`, {
      headers: as('alice'),
      onEvent: firstArrived.onEvent,
    });
    const eventId = (await firstArrived.arrived).id!;
    const { streamId } = parseId(eventId);

    for (const owner of ['bob', undefined]) {
      const viaGet = await fetch(`${app.url}/chat/stream?q=steal`, { headers: resumingAs(owner, eventId) });
      const viaPost = await postJson(`${app.url}/chat/stream`, { q: 'steal' }, resumingAs(owner, eventId));
      const viaResume = await postJson(`${app.url}/chat/resume`, {}, resumingAs(owner, eventId));
      for (const response of [viaGet, viaPost, viaResume]) {
        const body = await expectNoStream(response, 404);
        expect(body).not.toContain(streamId);
      }
      expect(await stop(eventId, owner)).toEqual({ status: 200, stopped: false });
      expect(await stop(streamId, owner)).toEqual({ status: 200, stopped: false });
    }

    await sleep(50);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.closedAt).toBeUndefined();
    expect(alice.events.at(-1)?.event).not.toBe('stopped');
    expect(await stop(eventId, 'alice')).toEqual({ status: 200, stopped: true });
  });

  // The ids are made when the file loads: titles name the case, not the random id.
  it.each([
    ['a forged id (well formed, random)', 404, forgedEventId()],
    ['a forged stream with position 0', 404, forgedEventId(0)],
    ['a malformed id', 400, 'abc.7'],
    ['a bare number (the ids of non-resumable streams)', 400, '7'],
    ['a stream id without position', 400, parseId(forgedEventId()).streamId],
  ])('%s: %d on every route, nothing upstream', async (_, status, id) => {
    const app = await start();

    const responses = [
      await fetch(`${app.url}/chat/stream?q=x`, { headers: resumingAs('alice', id) }),
      await postJson(`${app.url}/chat/stream`, { q: 'x' }, resumingAs('alice', id)),
      await postJson(`${app.url}/chat/resume`, {}, resumingAs('alice', id)),
      await postJson(`${app.url}/agent/run`, { q: 'x' }, resumingAs('alice', id)),
    ];

    for (const response of responses) await expectNoStream(response, status);
    expect(server.requests).toHaveLength(0);
  });

  it("the final event's id: 204 with an empty body; an earlier id within ttlMs: the rest", async () => {
    const app = await start();
    server.enqueue(streamReply(textMessage(REPLY_TEXT, { chunkSize: 8 })));
    const done = await readStream(`${app.url}/chat/stream?q=all`, { headers: as('alice') });
    expect(done.events.at(-1)?.event).toBe('done');
    const finalId = done.events.at(-1)!.id!;

    const viaGet = await fetch(`${app.url}/chat/stream?q=again`, { headers: resumingAs('alice', finalId) });
    const viaResume = await postJson(`${app.url}/chat/resume`, {}, resumingAs('alice', finalId));
    for (const response of [viaGet, viaResume]) {
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
    }
    // Past the end: not an id this stream ever gave.
    const { streamId, position } = parseId(finalId);
    await expectNoStream(
      await postJson(`${app.url}/chat/resume`, {}, resumingAs('alice', `${streamId}.${position + 1}`)),
      404,
    );
    const rest = await readStream(`${app.url}/chat/resume`, {
      method: 'POST',
      headers: resumingAs('alice', done.events[1]!.id!),
    });
    expect(rest.status).toBe(200);
    expect(rest.events).toEqual(done.events.slice(2));
    expect(server.requests).toHaveLength(1);
  });

  it('an expired stream (ttlMs 200, 600 ms after done): 404 for every id of it, nothing upstream', async () => {
    const app = await start({ resume: { graceMs: 5_000, ttlMs: 200 } });
    server.enqueue(streamReply(textMessage(REPLY_TEXT, { chunkSize: 8 })));
    const done = await readStream(`${app.url}/chat/stream?q=old`, { headers: as('alice') });
    expect(done.events.at(-1)?.event).toBe('done');

    await sleep(600);

    for (const event of [done.events[0]!, done.events.at(-1)!]) {
      await expectNoStream(
        await fetch(`${app.url}/chat/stream?q=old`, { headers: resumingAs('alice', event.id!) }),
        404,
      );
      await expectNoStream(await postJson(`${app.url}/chat/resume`, {}, resumingAs('alice', event.id!)), 404);
    }
    expect(await stop(done.events[0]!.id!, 'alice')).toEqual({ status: 200, stopped: false });
    expect(server.requests).toHaveLength(1);
  });
});

const EVENT_NAMES = [
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'done',
  'stopped',
  'error',
];

describe('resume mode: an EventSource left open', () => {
  it('cut mid-answer, it reconnects by itself with Last-Event-ID, gets the rest, and closes on the 204 after done', async () => {
    // The eventsource package waits 3 s before each reconnect: the grace must outlast it.
    const app = await start({ resume: { graceMs: 6_000 } });
    const proxy = await CuttableProxy.start(app.url);
    cleanups.push(() => proxy.close());
    const longText = `${REPLY_TEXT} ${REPLY_TEXT}`;
    // About 4 s of answer: the reconnect, 3 s after the cut, comes back while it is still live.
    server.enqueue(streamReply(textMessage(longText, { chunkSize: 4 }), { delayMs: 90 }));

    const sentLastEventIds: (string | undefined)[] = [];
    const source = new EventSource(`${proxy.url}/chat/stream?q=${encodeURIComponent('keep it open')}`, {
      fetch: (input, init: EventSourceFetchInit) => {
        sentLastEventIds.push(init.headers['Last-Event-ID']);
        return fetch(input, { ...init, headers: { ...init.headers, ...as('alice') } });
      },
    });
    cleanups.push(() => source.close());
    const events: { type: string; id: string; data: string }[] = [];
    let opens = 0;
    let idBeforeCut: string | undefined;
    source.addEventListener('open', () => (opens += 1));
    const closed = new Promise<void>((resolve) => {
      for (const name of EVENT_NAMES) {
        source.addEventListener(name, (event: Event) => {
          // The package's connection errors are `error` events without data.
          if (!('data' in event)) {
            if (source.readyState === EventSource.CLOSED) resolve();
            return;
          }
          const message = event as globalThis.MessageEvent<string>;
          events.push({ type: name, id: message.lastEventId, data: message.data });
          if (events.length === 5) {
            idBeforeCut = message.lastEventId;
            proxy.cut();
          }
        });
      }
    });

    await within(closed, 20_000, 'the EventSource to close');

    expect(source.readyState).toBe(EventSource.CLOSED);
    const ids = events.map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expectContiguous(events.map((event) => ({ id: event.id, event: event.type, data: event.data })));
    expect(events.at(-1)?.type).toBe('done');
    expect(events.filter((event) => event.type === 'done')).toHaveLength(1);
    expect(textOf(events.map((event) => ({ event: event.type, data: event.data })))).toBe(longText);
    // Three requests: the first, the reconnect after the cut (the rest), the reconnect after done (204). The last may
    // reuse the second's kept-alive connection; the one that was cut cannot be.
    expect(opens).toBe(2);
    expect(sentLastEventIds).toEqual([undefined, idBeforeCut, ids.at(-1)]);
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expect(server.requests).toHaveLength(1);
    await expectCompleted(server.requests[0]);
  }, 30_000);
});

describe('resume mode: owners', () => {
  it('maxStreamsPerOwner 1: a second live stream is 429 with nothing upstream; another owner streams; after done, again', async () => {
    const app = await start({ resume: { graceMs: 5_000, maxStreamsPerOwner: 1 } });
    server.enqueue(
      streamReply(textMessage('The first stream, slowly.', { chunkSize: 2 }), { delayMs: 50 }),
      streamReply(textMessage("Bob's answer")),
      streamReply(textMessage('Alice again')),
    );

    const first = await openStream(`${app.url}/chat/stream?q=one`, { headers: as('alice') });
    expect(first.status).toBe(200);
    const viaGet = await fetch(`${app.url}/chat/stream?q=two`, { headers: as('alice') });
    const viaPost = await postJson(`${app.url}/chat/stream`, { q: 'two' }, as('alice'));
    for (const response of [viaGet, viaPost]) await expectNoStream(response, 429);
    expect(server.requests).toHaveLength(1);

    const bob = await readStream(`${app.url}/chat/stream?q=bob`, { headers: as('bob') });
    expect(bob.status).toBe(200);
    expect(textOf(bob.events)).toBe("Bob's answer");
    expect(server.requests).toHaveLength(2);

    await within(first.ended, 5_000, 'the first stream to end');
    expect(first.events.at(-1)?.event).toBe('done');
    const again = await readStream(`${app.url}/chat/stream?q=three`, { headers: as('alice') });
    expect(again.status).toBe(200);
    expect(textOf(again.events)).toBe('Alice again');
    expect(again.events.at(-1)?.event).toBe('done');
    expect(server.requests).toHaveLength(3);
    expect(server.requests.map((request) => request.closedByClient)).toEqual([false, false, false]);
  });

  it("a failure before the first event (529) is a 503, not a 200, and takes no slot of the owner's", async () => {
    const app = await start({ resume: { graceMs: 5_000, maxStreamsPerOwner: 1 } });
    server.enqueue(errorReply(529), streamReply(textMessage('Works now')));

    const failed = await fetch(`${app.url}/chat/stream?q=busy`, { headers: as('alice') });
    await expectNoStream(failed, 503);
    expect(server.requests).toHaveLength(1);

    const next = await readStream(`${app.url}/chat/stream?q=again`, { headers: as('alice') });
    expect(next.status).toBe(200);
    expect(textOf(next.events)).toBe('Works now');
    expect(next.events.at(-1)?.event).toBe('done');
    expectContiguous(next.events);
    expect(server.requests).toHaveLength(2);
  });
});

describe('shared backoff', () => {
  function replyRateLimitedFirst(): void {
    server.respondWith((request) =>
      request.index === 0
        ? errorReply(429, { retryAfterSeconds: 2 })
        : streamReply(textMessage(`Answer of ${request.model ?? '?'}`)),
    );
  }

  it("a 429 with retry-after holds the next call of the same model until then; another model's goes at once", async () => {
    const app = await start({ retry: { maxRetries: 0, maxDelayMs: 5_000 } });
    replyRateLimitedFirst();

    const limited = await postJson(`${app.url}/chat/stream`, { q: 'first' }, as('alice'));
    await expectNoStream(limited, 429);
    const limitedAt = performance.now();
    const [held, other] = await Promise.all([
      readStream(`${app.url}/chat/stream`, { method: 'POST', body: { q: 'held' }, headers: as('bob') }),
      readStream(`${app.url}/chat/stream`, {
        method: 'POST',
        body: { q: 'other', model: OTHER_MODEL },
        headers: as('carol'),
      }),
    ]);

    expect(held.status).toBe(200);
    expect(textOf(held.events)).toBe(`Answer of ${MODEL}`);
    expect(other.status).toBe(200);
    expect(textOf(other.events)).toBe(`Answer of ${OTHER_MODEL}`);
    const [first, ...rest] = server.requests;
    expect(rest).toHaveLength(2);
    const heldRequest = rest.find((request) => request.model === MODEL)!;
    const otherRequest = rest.find((request) => request.model === OTHER_MODEL)!;
    expect(heldRequest.receivedAt).toBeGreaterThanOrEqual(first!.receivedAt + 1_900);
    expect(otherRequest.receivedAt - limitedAt).toBeLessThan(500);
    await expectCompleted(heldRequest);
  });

  it('with retry: false, the held call fails at once with 429 and Retry-After, sending nothing', async () => {
    const app = await start({ retry: false });
    replyRateLimitedFirst();

    await expectNoStream(await postJson(`${app.url}/chat/stream`, { q: 'first' }, as('alice')), 429);
    const askedAt = performance.now();
    const held = await postJson(`${app.url}/chat/stream`, { q: 'held' }, as('bob'));

    expect(performance.now() - askedAt).toBeLessThan(500);
    await expectNoStream(held, 429);
    expect(['1', '2']).toContain(held.headers.get('retry-after'));
    expect(server.requests).toHaveLength(1);
  });
});

describe('resume mode: sseRunTools()', () => {
  it('dropped after the first turn, resumed: every event once, turn markers included; one request per turn', async () => {
    const app = await start();
    server.enqueue(
      streamReply(
        toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_paris', text: 'Let me check.' }),
      ),
      streamReply(textMessage('It is sunny in Paris, 21 degrees.', { chunkSize: 3 }), { delayMs: 30 }),
    );

    const toolResult = eventWhere((event) => event.event === 'tool_result');
    const first = await openStream(`${app.url}/agent/run`, {
      method: 'POST',
      body: { q: 'Weather in Paris?' },
      headers: as('alice'),
      onEvent: toolResult.onEvent,
    });
    expect(first.status).toBe(200);
    await toolResult.arrived;
    first.close();
    await first.ended;
    const second = await readStream(`${app.url}/agent/run`, {
      method: 'POST',
      body: { q: 'Weather in Paris?' },
      headers: resumingAs('alice', first.events.at(-1)!.id!),
    });

    expect(second.status).toBe(200);
    expect(namesOf(first.events)).not.toContain('done');
    const all = [...first.events, ...second.events];
    expectContiguous(all);
    expect(namesOf(all).filter((name) => !name?.startsWith('content_block_'))).toEqual([
      'turn_start',
      'message_start',
      'message_delta',
      'message_stop',
      'turn_end',
      'tool_result',
      'turn_start',
      'message_start',
      'message_delta',
      'message_stop',
      'turn_end',
      'done',
    ]);
    expect(JSON.parse(all.find((event) => event.event === 'tool_result')!.data)).toMatchObject({
      turn: 1,
      tool_use_id: 'toolu_paris',
      content: 'Paris: sunny, 21 °C',
      is_error: false,
    });
    expect(textOf(all)).toBe('Let me check.It is sunny in Paris, 21 degrees.');
    expect(app.toolCalls).toEqual([{ city: 'Paris' }]);
    expect(server.requests).toHaveLength(2);
    for (const request of server.requests) await expectCompleted(request);
    expect(JSON.stringify(server.requests[1]!.body?.['messages'])).toContain('"tool_use_id":"toolu_paris"');
  });
});

describe('resume mode on the memory store: app.close()', () => {
  it('aborts the streams at once (no drain: nothing could resume them) and ends the readers with server_shutdown', async () => {
    const app = await start();
    server.enqueue(streamReply(textMessage(REPLY_TEXT, { chunkSize: 2 }), { delayMs: 50 }));
    const reading = await openStream(`${app.url}/chat/stream?q=bye`, { headers: as('alice') });
    for (let waited = 0; reading.events.length < 3 && waited < 2_000; waited += 10) await sleep(10);

    const closedAt = performance.now();
    await app.app.close();
    t = undefined;
    await within(reading.ended, 2_000, 'the reader to end');

    const last = reading.events.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({ type: 'server_shutdown', retryable: true });
    const [request] = server.requests;
    await within(request!.closed, 1_000, 'the upstream request to be aborted');
    expect(request!.closedByClient).toBe(true);
    expect(request!.closedAt! - closedAt).toBeLessThan(1_000);
  });
});
