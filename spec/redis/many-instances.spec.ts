// Many instances on one Redis, each a NestJS app in a node process of its own (spec/redis/support/instance-main.ts),
// the fake Claude server upstream: what a client sees, and what the Claude API sees, when a reconnect lands on another
// instance, a stop on a third, a producer dies, a 429 asks to wait, Redis dies, and a deploy restarts them one by one.
import type { EventSourceMessage } from 'eventsource-parser';
import { errorReply, FakeClaudeServer, streamReply, textMessage, type RecordedRequest } from 'claude-rx/testing';
import { openSse, type SseRead } from '../nest-module/support/sse-client.js';
import { sleep } from '../support/harness.js';
import { startRedis, type PrivateRedis } from '../support/redis-server.js';
import { buildInstance, startInstance, type Instance, type InstanceSettings } from './support/instances.js';
import {
  dumpRedis,
  FINAL_EVENTS,
  idOf,
  positionsOf,
  range,
  textOf,
  waitUntil,
  within,
  wordsText,
} from './support/many-instances-helpers.js';

/** The API key every instance is configured with (instance-main.ts): it must never reach Redis or a log line. */
const API_KEY = 'sk-ant-instance-test';
/** The model of the instances' `defaults`. */
const MODEL = 'claude-test-model';
const CHUNK = 4;

let fake: FakeClaudeServer;
let redis: PrivateRedis;
/** Every instance a test started: killed after it, whatever happened. */
const instances: Instance[] = [];
/** Every SSE read a test opened: closed after it. */
const reads: SseRead[] = [];

beforeAll(async () => {
  fake = await FakeClaudeServer.start();
  // The first instance compiles the instance program; done here, so that no test's timing pays for it.
  buildInstance();
}, 60_000);

afterAll(async () => {
  await fake.close();
});

beforeEach(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const read of reads.splice(0)) read.close();
  await Promise.all(instances.splice(0).map((instance) => instance.kill()));
  await redis.stop();
  fake.reset();
});

async function instance(settings: Partial<InstanceSettings> = {}): Promise<Instance> {
  const started = await startInstance({ redisUrl: redis.url, claudeUrl: fake.url, ...settings });
  instances.push(started);
  return started;
}

/** A reply of `words` numbered words, one text delta per `CHUNK` characters, `delayMs` before each event. */
function longReply(words: number, delayMs: number, options: { stallAfter?: number } = {}) {
  const text = wordsText(words);
  const events = textMessage(text, { chunkSize: CHUNK });
  return { text, events, reply: streamReply(events, { delayMs, ...options }) };
}

/** Starts a stream on `on` (GET /chat/stream, as an EventSource would); resolves once the first event is in. */
async function startStream(on: Instance, q = 'Tell me a story', model?: string): Promise<SseRead> {
  const query = new URLSearchParams({ q, ...(model ? { model } : {}) });
  const read = await openSse(`${on.url}/chat/stream?${query.toString()}`);
  reads.push(read);
  return read;
}

/** Resumes on `on` after `lastEventId` (POST /chat/resume with Last-Event-ID, as a fetch client does). */
async function resumeOn(on: Instance, lastEventId: string): Promise<SseRead> {
  const read = await openSse(`${on.url}/chat/resume`, { method: 'POST', headers: { 'last-event-id': lastEventId } });
  reads.push(read);
  return read;
}

/** Reads until at least `count` events are in, then drops the connection; resolves with what the client got. */
async function dropAfter(read: SseRead, count: number): Promise<EventSourceMessage[]> {
  await waitUntil(`${count} events`, () => read.events.length >= count);
  read.close();
  await read.ended;
  return [...read.events];
}

function lastOf(events: readonly EventSourceMessage[]): EventSourceMessage {
  const last = events.at(-1);
  if (!last) throw new Error('no event was read');
  return last;
}

function errorTypeOf(event: EventSourceMessage): string | undefined {
  return (JSON.parse(event.data) as { type?: string }).type;
}

/** The only upstream request so far, once it has ended (completed or closed). */
async function onlyRequest(timeoutMs = 10_000): Promise<RecordedRequest> {
  expect(fake.requests).toHaveLength(1);
  const request = fake.requests[0]!;
  await within('the upstream request to end', request.closed, timeoutMs);
  return request;
}

describe('many instances on one Redis (separate processes)', () => {
  it('resumes on B a stream dropped on A: every event once, in order, from one request never aborted (B’s reader counts)', async () => {
    // A grace of 1.5 s and a reply of ~4 s: had B's reader not counted as attached, A would abort the request.
    const [a, b] = await Promise.all([instance({ graceMs: 1_500 }), instance({ graceMs: 1_500 })]);
    const { text, reply } = longReply(70, 60);
    fake.enqueue(reply);

    const onA = await dropAfter(await startStream(a), 8);
    const droppedAt = performance.now();
    const onB = await resumeOn(b, lastOf(onA).id!);
    await within('the resumed stream to end', onB.ended, 15_000);

    expect(onB.status).toBe(200);
    const all = [...onA, ...onB.events];
    const streamId = idOf(all[0]!).streamId;
    expect(all.every((event) => idOf(event).streamId === streamId)).toBe(true);
    expect(positionsOf(all)).toEqual(range(1, all.length));
    expect(lastOf(onB.events).event).toBe('done');
    expect(all.filter((event) => FINAL_EVENTS.has(event.event ?? ''))).toHaveLength(1);
    expect(textOf(all)).toBe(text);

    const request = await onlyRequest();
    expect(request.completed).toBe(true);
    expect(request.closedByClient).toBe(false);
    // The reply outlived the grace after the drop by far: the reader on B is what kept it going.
    expect(request.closedAt! - droppedAt).toBeGreaterThan(2_000);
  }, 30_000);

  it('stops on B a stream A produces: the upstream request is aborted within 1 s, A’s and B’s readers end with `stopped`', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const { reply } = longReply(80, 60);
    fake.enqueue(reply);

    const readerA = await startStream(a);
    await waitUntil('5 events on A', () => readerA.events.length >= 5);
    const readerB = await resumeOn(b, readerA.events[2]!.id!);
    await waitUntil('B to follow the live stream', () => readerB.events.length >= 3);

    const stopAt = performance.now();
    const response = await fetch(`${b.url}/chat/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: lastOf(readerA.events).id }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ stopped: true });

    const request = fake.requests[0]!;
    await within('the upstream request to be aborted', request.closed, 1_000);
    expect(request.closedByClient).toBe(true);
    expect(request.completed).toBe(false);
    expect(request.closedAt! - stopAt).toBeLessThan(1_000);

    await within('both readers to end', Promise.all([readerA.ended, readerB.ended]), 3_000);
    for (const reader of [readerA, readerB]) {
      const last = lastOf(reader.events);
      expect(last.event).toBe('stopped');
      expect(JSON.parse(last.data)).toEqual({ reason: 'stop' });
    }
    expect(lastOf(readerB.events).id).toBe(lastOf(readerA.events).id);
    expect(positionsOf(readerA.events)).toEqual(range(1, readerA.events.length));
    expect(positionsOf(readerB.events)).toEqual(range(4, 3 + readerB.events.length));
    expect(fake.requests).toHaveLength(1);
  }, 30_000);

  it('ends a reader resumed on B with an `error` event (stream_lost) within 10 s of A’s crash, the text so far intact', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    // The upstream writes 14 events, then nothing: by the crash, every event produced is in Redis.
    const stallAfter = 14;
    const { events, reply } = longReply(60, 30, { stallAfter });
    fake.enqueue(reply);
    const producedText = textOf(
      events.slice(0, stallAfter).map((event) => ({ event: event.type, data: JSON.stringify(event), id: '' })),
    );

    const onA = await dropAfter(await startStream(a), 5);
    const [request] = await fake.waitForRequests(1);
    await waitUntil('the upstream to stall', () => request!.eventsWritten >= stallAfter);
    await sleep(300); // A writes to Redis every 50 ms
    const killedAt = performance.now();
    await a.kill();

    const onB = await resumeOn(b, lastOf(onA).id!);
    await within('the reader on B to end', onB.ended, 10_000);
    const endedAt = performance.now();

    expect(onB.status).toBe(200);
    expect(endedAt - killedAt).toBeLessThan(10_000);
    const all = [...onA, ...onB.events];
    const final = lastOf(onB.events);
    expect(final.event).toBe('error');
    expect(errorTypeOf(final)).toBe('stream_lost');
    // Every event A produced, each once, in order; then the error, one past them.
    expect(positionsOf(all)).toEqual(range(1, stallAfter + 1));
    expect(all.filter((event) => event.event === 'error')).toHaveLength(1);
    expect(textOf(all)).toBe(producedText);
    expect(producedText.length).toBeGreaterThan(0);
    expect(fake.requests).toHaveLength(1);

    // The error event is the stream's last: resuming after it says there is nothing more.
    const after = await fetch(`${b.url}/chat/resume`, { method: 'POST', headers: { 'last-event-id': final.id! } });
    expect(after.status).toBe(204);
    expect(await after.text()).toBe('');
  }, 30_000);

  it('holds B’s calls for a model after a 429 with retry-after: 2 on A; another model goes at once', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    fake.enqueue(errorReply(429, { retryAfterSeconds: 2 }));
    fake.respondWith(() => streamReply(textMessage('Answered after the wait.', { chunkSize: CHUNK })));

    const refused = await fetch(`${a.url}/chat/stream?q=first`);
    expect(refused.status).toBe(429);
    await refused.text();
    const limited = fake.requests[0]!;
    expect(limited.model).toBe(MODEL);

    const otherModel = 'claude-other-model';
    const [held, other] = await Promise.all([
      startStream(b, 'second'),
      startStream(b, 'another model', otherModel).then(async (read) => {
        await read.ended;
        return read;
      }),
    ]);
    await within('the held call to end', held.ended, 10_000);

    const sameModel = fake.requests.filter((request) => request.model === MODEL && request !== limited);
    expect(sameModel).toHaveLength(1);
    expect(sameModel[0]!.receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(1_900);
    expect(held.status).toBe(200);
    expect(lastOf(held.events).event).toBe('done');
    expect(textOf(held.events)).toBe('Answered after the wait.');

    const others = fake.requests.filter((request) => request.model === otherModel);
    expect(others).toHaveLength(1);
    expect(others[0]!.receivedAt - limited.receivedAt).toBeLessThan(1_000);
    expect(other.status).toBe(200);
    expect(lastOf(other.events).event).toBe('done');
  }, 30_000);

  it('gives A’s reader every word when Redis dies mid-stream (one warning, no secret); a resume on B then ends with `error`', async () => {
    // Redis with a password, so that a log line that named the connection's settings would show it.
    const password = 'redis-pw-5ecret';
    await redis.client().config('SET', 'requirepass', password);
    const redisUrl = `redis://:${password}@127.0.0.1:${redis.port}`;
    const [a, b] = await Promise.all([instance({ redisUrl }), instance({ redisUrl })]);
    const { text, reply } = longReply(50, 40);
    fake.enqueue(reply);

    const readerA = await startStream(a);
    await waitUntil('6 events on A', () => readerA.events.length >= 6);
    await redis.kill();
    const readAtKill = readerA.events.length;
    await within('A’s reader to end', readerA.ended, 15_000);

    expect(readerA.events.length).toBeGreaterThan(readAtKill);
    expect(positionsOf(readerA.events)).toEqual(range(1, readerA.events.length));
    expect(lastOf(readerA.events).event).toBe('done');
    expect(textOf(readerA.events)).toBe(text);
    const request = await onlyRequest();
    expect(request.completed).toBe(true);
    expect(request.closedByClient).toBe(false);

    // Redis still down: B cannot know what came after the id; it says so with an `error` event, never `done`.
    const midway = readerA.events[4]!;
    const whileDown = await resumeOn(b, midway.id!);
    await within('the resume on B (Redis down) to end', whileDown.ended, 10_000);
    expect(whileDown.status).toBe(200);
    expect(lastOf(whileDown.events).event).toBe('error');
    expect(errorTypeOf(lastOf(whileDown.events))).toBe('stream_lost');
    expect(whileDown.events.some((event) => event.event === 'done')).toBe(false);
    // No gap: whatever came before the error follows the id.
    const before = whileDown.events.slice(0, -1);
    expect(positionsOf(before)).toEqual(range(idOf(midway).position + 1, idOf(midway).position + before.length));
    // What A logged while Redis was down (taken now: a Redis back without its password makes ioredis warn).
    const logged = [...a.stderr];

    // Redis back, empty: the stream is unknown there (404 by the answer table), never a 200 with a partial answer.
    // B's connection comes back on ioredis's own reconnect schedule (up to 2 s between attempts): until then a resume is
    // answered as while Redis was down, with an `error` event; never with `done`.
    await redis.restart();
    const deadline = Date.now() + 15_000;
    let afterRestart: { status: number; body: string };
    for (;;) {
      const response = await fetch(`${b.url}/chat/resume`, {
        method: 'POST',
        headers: { 'last-event-id': midway.id! },
      });
      afterRestart = { status: response.status, body: await response.text() };
      expect(afterRestart.body).not.toContain('event: done');
      if (afterRestart.status !== 200 || Date.now() > deadline) break;
      expect(afterRestart.body).toContain('event: error');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(afterRestart.status).toBe(404);

    // One warning, and nothing else: no line per reconnect attempt, no secret.
    for (const line of logged) {
      expect(line).not.toContain('sk-ant');
      expect(line).not.toContain(password);
    }
    const warnings = logged.filter((line) => line.includes('"warning"'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toEqual({ warning: expect.stringMatching(/Redis failed/) as unknown });
    expect(logged.filter((line) => !warnings.includes(line))).toEqual([]);
  }, 40_000);

  it('loses no event in a rolling restart: A stopped (SIGTERM) mid-stream lets its reader go at once and drains; the reader resumes on B', async () => {
    const [a, b] = await Promise.all([instance({ drainMs: 5_000 }), instance({ drainMs: 5_000 })]);
    const first = longReply(50, 50);
    fake.enqueue(first.reply);

    const readerA = await startStream(a);
    await waitUntil('6 events on A', () => readerA.events.length >= 6);
    const stoppedAt = performance.now();
    const stopping = a.stop();
    await within('A’s reader connection to end at SIGTERM', readerA.ended, 1_000);
    const upstream = fake.requests[0]!;
    expect(upstream.completed).toBe(false);
    expect(FINAL_EVENTS.has(lastOf(readerA.events).event ?? '')).toBe(false);

    const readerB = await resumeOn(b, lastOf(readerA.events).id!);
    await within('the resumed stream to end', readerB.ended, 10_000);
    await within('A to exit after its drain', stopping, 10_000);
    expect(a.process.exitCode).toBe(0);

    const all = [...readerA.events, ...readerB.events];
    expect(positionsOf(all)).toEqual(range(1, all.length));
    expect(lastOf(all).event).toBe('done');
    expect(textOf(all)).toBe(first.text);
    const request = await onlyRequest();
    expect(request.completed).toBe(true);
    expect(request.closedByClient).toBe(false);
    // A ran the stream to its end before it exited (within its drain).
    expect(request.closedAt! - stoppedAt).toBeGreaterThan(500);

    // A is back on its port; now B restarts, and its reader resumes on the new A.
    const a2 = await instance({ port: a.port, drainMs: 5_000 });
    expect(a2.url).toBe(a.url);
    const second = longReply(50, 50);
    fake.enqueue(second.reply);
    const readerOnB = await startStream(b);
    await waitUntil('6 events on B', () => readerOnB.events.length >= 6);
    const stoppingB = b.stop();
    await within('B’s reader connection to end at SIGTERM', readerOnB.ended, 1_000);
    expect(FINAL_EVENTS.has(lastOf(readerOnB.events).event ?? '')).toBe(false);
    const readerA2 = await resumeOn(a2, lastOf(readerOnB.events).id!);
    await within('the stream resumed on the new A to end', readerA2.ended, 10_000);
    await within('B to exit after its drain', stoppingB, 10_000);

    const again = [...readerOnB.events, ...readerA2.events];
    expect(positionsOf(again)).toEqual(range(1, again.length));
    expect(lastOf(again).event).toBe('done');
    expect(textOf(again)).toBe(second.text);
    expect(fake.requests).toHaveLength(2);
    const secondRequest = fake.requests[1]!;
    await within('the second upstream request to end', secondRequest.closed, 5_000);
    expect(secondRequest.completed).toBe(true);
    expect(secondRequest.closedByClient).toBe(false);
  }, 45_000);

  it('leaves no key without an expiry, and no API key or prompt, in Redis', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const prompt = 'a-prompt-that-stays-private';
    // A stream dropped on A and resumed on B to its end; another stopped from B; a 429 that holds a model.
    fake.enqueue(longReply(20, 20).reply, longReply(60, 50).reply, errorReply(429, { retryAfterSeconds: 30 }));
    const resumed = await resumeOn(b, lastOf(await dropAfter(await startStream(a, prompt), 4)).id!);
    await within('the resumed stream to end', resumed.ended, 10_000);
    expect(lastOf(resumed.events).event).toBe('done');
    const toStop = await startStream(a, prompt);
    await waitUntil('3 events', () => toStop.events.length >= 3);
    const stop = await fetch(`${b.url}/chat/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: lastOf(toStop.events).id }),
    });
    expect(await stop.json()).toEqual({ stopped: true });
    await within('the stopped stream to end', toStop.ended, 5_000);
    const held = await fetch(`${a.url}/chat/stream?${new URLSearchParams({ q: prompt, model: 'claude-held-model' })}`);
    expect(held.status).toBe(429);
    await held.text();

    const inspect = redis.client();
    const keys = await dumpRedis(inspect);
    // Not vacuous: the streams' events, a stop and the backoff are there.
    expect(keys.some((key) => key.type === 'stream')).toBe(true);
    expect(keys.some((key) => key.key.endsWith(':stop'))).toBe(true);
    expect(keys.some((key) => key.key.includes('{b:'))).toBe(true);
    for (const key of keys) {
      expect({ key: key.key, pttl: key.pttl > 0 }).toEqual({ key: key.key, pttl: true });
      for (const text of [key.key, ...key.strings]) {
        expect(text).not.toContain(API_KEY);
        expect(text).not.toContain('sk-ant');
        expect(text).not.toContain(prompt);
      }
    }
  }, 40_000);
});
