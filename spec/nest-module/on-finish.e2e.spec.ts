import Anthropic, { APIError } from '@anthropic-ai/sdk';
import type { LoggerService } from '@nestjs/common';
import { lastValueFrom, toArray } from 'rxjs';
import type { EventSourceMessage } from 'eventsource-parser';
import { ClaudeStreamShutdownError, type ClaudeFinishInfo, type ClaudeStreamModuleOptions } from 'claude-rx/nest';
import {
  errorReply,
  FakeClaudeServer,
  stallBeforeHeaders,
  streamReply,
  textMessage,
  toolUseMessage,
  type RecordedRequest,
} from 'claude-rx/testing';
import { API_KEY, MODEL } from './support/fixtures.js';
import { OWNER_HEADER, startResumableApp, type ResumableApp } from './support/resumable-app.js';
import { eventWhere, openSse, type SseRead } from './support/sse-client.js';

// forRoot({ onFinish }) end to end: a real Nest app and HTTP clients, the real SDK against the fake Claude server.
// Each test waits for onFinish, checks what it was told (outcome, message, usage, model, owner), then waits a little
// longer and checks it was told exactly once; and checks the upstream request at the server.

let server: FakeClaudeServer;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
});
afterAll(() => server.close());

let t: ResumableApp | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await t?.app.close();
  t = undefined;
  server.reset();
});

const ANSWER = 'Every call is told once, however it ends.';
const OTHER_MODEL = 'claude-other-model';
const OVERLOADED = { type: 'overloaded_error', message: 'Overloaded' };

/** What onFinish was told, in order. */
let finishes: ClaudeFinishInfo[] = [];
beforeEach(() => {
  finishes = [];
});
const record = (info: ClaudeFinishInfo) => void finishes.push(info);

async function start(overrides: ClaudeStreamModuleOptions = {}): Promise<ResumableApp> {
  const client = new Anthropic({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0 });
  t = await startResumableApp({
    client,
    defaults: { model: MODEL, max_tokens: 64 },
    retry: false,
    sse: { heartbeatMs: false },
    onFinish: record,
    ...overrides,
  });
  return t;
}

const as = (owner: string): Record<string, string> => ({ [OWNER_HEADER]: owner });

/** `openSse`, closed after the test if it is still open. */
async function openStream(url: string, init: Parameters<typeof openSse>[1] = {}): Promise<SseRead> {
  const read = await openSse(url, init);
  cleanups.push(() => read.close());
  return read;
}

async function readStream(url: string, init: Parameters<typeof openSse>[1] = {}): Promise<SseRead> {
  const read = await openStream(url, init);
  await read.ended;
  return read;
}

/** Opens a stream and resolves once `count` events have arrived (the connection stays open). */
async function openAndRead(url: string, count: number, init: Parameters<typeof openSse>[1] = {}): Promise<SseRead> {
  let seen = 0;
  const enough = eventWhere(() => ++seen === count);
  const read = await openStream(url, { ...init, onEvent: enough.onEvent });
  expect(read.status).toBe(200);
  await within(enough.arrived, 5_000, `${count} events`);
  return read;
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition`; fails naming `what` after `ms`. */
async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

/** Waits for the one onFinish call, then a little more to see that no second one comes; returns it. */
async function theOnlyFinish(): Promise<ClaudeFinishInfo> {
  await until(() => finishes.length > 0, 'onFinish');
  await sleep(100);
  expect(finishes).toHaveLength(1);
  return finishes[0]!;
}

async function closedByClient(request: RecordedRequest | undefined): Promise<void> {
  await within(request!.closed, 5_000, 'the upstream request to end');
  expect(request!.closedByClient).toBe(true);
}

async function completed(request: RecordedRequest | undefined): Promise<void> {
  await within(request!.closed, 5_000, 'the upstream request to end');
  expect(request).toMatchObject({ completed: true, closedByClient: false });
}

function textOf(message: Anthropic.Messages.Message | undefined): string {
  return (message?.content ?? []).map((block) => (block.type === 'text' ? block.text : '')).join('');
}

function namesOf(events: readonly EventSourceMessage[]): (string | undefined)[] {
  return events.map((event) => event.event);
}

function streamedText(events: readonly EventSourceMessage[]): string {
  return events
    .filter((event) => event.event === 'content_block_delta')
    .map((event) => JSON.parse(event.data) as { delta: { type: string; text?: string } })
    .map((event) => (event.delta.type === 'text_delta' ? event.delta.text : ''))
    .join('');
}

function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** A logger that keeps the warnings, for `app.useLogger`. */
function warningsLogger(): { logger: LoggerService; warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => undefined;
  return {
    warnings,
    logger: {
      log: ignore,
      error: ignore,
      debug: ignore,
      verbose: ignore,
      warn: (message: unknown) => void warnings.push(String(message)),
    },
  };
}

describe('forRoot({ onFinish }), plain mode', () => {
  it('complete, over HTTP (sse): the whole message, its usage, the model and the owner, once', async () => {
    const app = await start();
    server.enqueue(
      streamReply(textMessage(ANSWER, { id: 'msg_http', chunkSize: 6, usage: { input_tokens: 21, output_tokens: 9 } })),
    );

    const read = await readStream(`${app.url}/chat/stream?q=hello`, { headers: as('alice') });

    expect(namesOf(read.events).at(-1)).toBe('done');
    const finish = await theOnlyFinish();
    expect(finish).toEqual({
      call: 'stream',
      outcome: 'complete',
      message: expect.objectContaining({ id: 'msg_http', stop_reason: 'end_turn' }) as unknown,
      usage: expect.objectContaining({ input_tokens: 21, output_tokens: 9 }) as unknown,
      lowerBound: false,
      model: MODEL,
      owner: 'alice',
    });
    expect(finish).not.toHaveProperty('error');
    expect(textOf(finish.message)).toBe(ANSWER);
    await completed(server.requests[0]);
  });

  it('complete, for text() and finalMessage() called directly: the model asked for, no owner; once per call', async () => {
    const app = await start();
    server.enqueue(
      streamReply(textMessage(ANSWER, { id: 'msg_text', usage: { input_tokens: 5, output_tokens: 8 } })),
      streamReply(textMessage('Second.', { id: 'msg_final', usage: { input_tokens: 6, output_tokens: 2 } })),
    );
    const params = { model: OTHER_MODEL, messages: [{ role: 'user' as const, content: 'hi' }] };

    const text = await lastValueFrom(app.service.text(params).pipe(toArray()));
    expect(text.join('')).toBe(ANSWER);
    const first = await theOnlyFinish();
    expect(first).toMatchObject({
      call: 'stream',
      outcome: 'complete',
      message: { id: 'msg_text' },
      usage: { input_tokens: 5, output_tokens: 8 },
      lowerBound: false,
      model: OTHER_MODEL,
      owner: undefined,
    });

    const message = await lastValueFrom(app.service.finalMessage({ messages: params.messages }));
    expect(message.id).toBe('msg_final');
    await until(() => finishes.length > 1, 'the second onFinish');
    await sleep(100);
    expect(finishes).toHaveLength(2);
    expect(finishes[1]).toMatchObject({
      call: 'stream',
      outcome: 'complete',
      message: { id: 'msg_final' },
      model: MODEL,
    });
  });

  it('error mid-stream: the error, the partial message, a lower bound; the client gets an error event', async () => {
    const app = await start();
    server.enqueue(
      streamReply(textMessage(ANSWER, { chunkSize: 6, usage: { input_tokens: 13 } }), {
        errorAfter: { events: 4, error: OVERLOADED },
      }),
    );

    const read = await readStream(`${app.url}/chat/stream?q=hello`, { headers: as('bob') });

    expect(namesOf(read.events).at(-1)).toBe('error');
    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({
      call: 'stream',
      outcome: 'error',
      message: { stop_reason: null },
      usage: { input_tokens: 13 },
      lowerBound: true,
      model: MODEL,
      owner: 'bob',
    });
    expect(finish.error).toBeInstanceOf(APIError);
    expect((finish.error as APIError).type).toBe('overloaded_error');
    expect(textOf(finish.message)).toBe(ANSWER.slice(0, 12));
  });

  it('error before the first event (the call is answered with an HTTP status): error, no message', async () => {
    const app = await start();
    server.enqueue(errorReply(529));

    const response = await fetch(`${app.url}/chat/stream?q=hello`, { headers: as('bob') });
    await response.text();

    expect(response.status).toBe(503);
    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({
      call: 'stream',
      outcome: 'error',
      message: undefined,
      usage: undefined,
      owner: 'bob',
    });
    expect(finish.error).toBeInstanceOf(APIError);
  });

  it('client_gone: the HTTP client leaves mid-answer; the partial message; the upstream request is aborted', async () => {
    const app = await start();
    server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 6, usage: { input_tokens: 17 } }), { stallAfter: 4 }));

    const read = await openAndRead(`${app.url}/chat/stream?q=hello`, 4, { headers: as('carol') });
    read.close();

    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({
      call: 'stream',
      outcome: 'client_gone',
      message: { stop_reason: null },
      usage: { input_tokens: 17 },
      lowerBound: true,
      owner: 'carol',
    });
    expect(finish).not.toHaveProperty('error');
    expect(textOf(finish.message)).toBe(ANSWER.slice(0, 12));
    await closedByClient(server.requests[0]);
  });

  it('client_gone: the HTTP client leaves before the first event; the upstream request is aborted', async () => {
    const app = await start();
    server.enqueue(stallBeforeHeaders());
    const client = new AbortController();
    const pending = fetch(`${app.url}/chat/stream?q=hello`, { headers: as('carol'), signal: client.signal });
    const [request] = await server.waitForRequests(1);

    client.abort();
    await expect(pending).rejects.toThrow();

    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({ call: 'stream', outcome: 'client_gone', message: undefined, usage: undefined });
    await closedByClient(request);
  });

  it('shutdown: app.close() under a call; ClaudeStreamShutdownError', async () => {
    const app = await start();
    server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 6 }), { stallAfter: 4 }));
    const read = await openAndRead(`${app.url}/chat/stream?q=hello`, 4, { headers: as('dave') });

    await app.app.close();
    t = undefined;
    await within(read.ended, 5_000, 'the response to end');

    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({ call: 'stream', outcome: 'shutdown', lowerBound: true, owner: 'dave' });
    expect(finish.error).toBeInstanceOf(ClaudeStreamShutdownError);
    expect(textOf(finish.message)).toBe(ANSWER.slice(0, 12));
    await closedByClient(server.requests[0]);
  });

  it("runTools (agent/run): call 'runTools', the last turn's message, the usage of both turns", async () => {
    const app = await start();
    server.enqueue(
      streamReply(
        toolUseMessage(
          'get_weather',
          { city: 'Paris' },
          { id: 'msg_turn_1', usage: { input_tokens: 100, output_tokens: 20 } },
        ),
      ),
      streamReply(textMessage('Sunny in Paris.', { id: 'msg_turn_2', usage: { input_tokens: 140, output_tokens: 6 } })),
    );

    const read = await readStream(`${app.url}/agent/run`, {
      method: 'POST',
      body: { q: 'weather?' },
      headers: as('erin'),
    });

    expect(namesOf(read.events).at(-1)).toBe('done');
    expect(app.toolCalls).toEqual([{ city: 'Paris' }]);
    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({
      call: 'runTools',
      outcome: 'complete',
      message: { id: 'msg_turn_2', stop_reason: 'end_turn' },
      usage: { input_tokens: 240, output_tokens: 26 },
      lowerBound: false,
      model: MODEL,
      owner: 'erin',
    });
    expect(textOf(finish.message)).toBe('Sunny in Paris.');
    expect(server.requests).toHaveLength(2);
  });

  it('exactly one call per call, for calls side by side', async () => {
    const app = await start();
    for (let i = 0; i < 3; i++)
      server.enqueue(streamReply(textMessage(`${ANSWER} ${i}`, { chunkSize: 8 }), { delayMs: 2 }));

    const reads = await Promise.all(
      ['u0', 'u1', 'u2'].map((owner) => readStream(`${app.url}/chat/stream?q=${owner}`, { headers: as(owner) })),
    );

    for (const read of reads) expect(namesOf(read.events).at(-1)).toBe('done');
    await until(() => finishes.length >= 3, 'three onFinish calls');
    await sleep(100);
    expect(finishes).toHaveLength(3);
    expect(finishes.map((finish) => finish.owner).sort()).toEqual(['u0', 'u1', 'u2']);
    expect(finishes.every((finish) => finish.outcome === 'complete')).toBe(true);
  });

  describe('an onFinish that fails never affects the stream, and is logged without its message', () => {
    const SECRET = 'card 4111-1111-1111-1111 declined';

    it.each<[string, () => void | Promise<void>]>([
      [
        'throws',
        () => {
          throw new RangeError(SECRET);
        },
      ],
      ['rejects', () => Promise.reject(new RangeError(SECRET))],
    ])('an onFinish that %s', async (_how, failing) => {
      let called = 0;
      const app = await start({
        onFinish: () => {
          called++;
          return failing();
        },
      });
      const { logger, warnings } = warningsLogger();
      app.app.useLogger(logger);
      server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 6 })));

      const read = await readStream(`${app.url}/chat/stream?q=hello`, { headers: as('alice') });

      expect(namesOf(read.events).at(-1)).toBe('done');
      expect(streamedText(read.events)).toBe(ANSWER);
      await until(() => warnings.some((warning) => warning.includes('onFinish')), 'the warning');
      await sleep(50);
      expect(called).toBe(1);
      expect(warnings).toEqual([expect.stringContaining('RangeError')]);
      expect(warnings.join('\n')).not.toContain('4111');
      await completed(server.requests[0]);
    });

    it('a throwing onFinish on a direct call: the call still completes with every value', async () => {
      const app = await start({
        onFinish: () => {
          throw new Error(SECRET);
        },
      });
      const { logger, warnings } = warningsLogger();
      app.app.useLogger(logger);
      server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 6 })));

      const text = await lastValueFrom(
        app.service.text({ messages: [{ role: 'user', content: 'hi' }] }).pipe(toArray()),
      );

      expect(text.join('')).toBe(ANSWER);
      expect(warnings).toEqual([expect.stringContaining('onFinish')]);
      expect(warnings.join('\n')).not.toContain('4111');
    });
  });
});

describe('forRoot({ onFinish }), resume mode', () => {
  const resume = (options: { graceMs?: number; drainMs?: number } = {}): ClaudeStreamModuleOptions => ({
    resume: { graceMs: 5_000, ...options },
  });

  it('complete, even after the client left: the stream runs on to its end', async () => {
    const app = await start(resume());
    server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 6, usage: { input_tokens: 9 } }), { delayMs: 30 }));

    const read = await openAndRead(`${app.url}/chat/stream`, 3, {
      method: 'POST',
      body: { q: 'hi' },
      headers: as('alice'),
    });
    read.close();

    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({
      call: 'stream',
      outcome: 'complete',
      lowerBound: false,
      owner: 'alice',
      model: MODEL,
    });
    expect(textOf(finish.message)).toBe(ANSWER);
    await completed(server.requests[0]);
  });

  it('error before the first event: error, once; the client is answered with an HTTP status', async () => {
    const app = await start(resume());
    server.enqueue(errorReply(529));

    const response = await postJson(`${app.url}/chat/stream`, { q: 'hi' }, as('alice'));
    await response.text();

    expect(response.status).toBe(503);
    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({ call: 'stream', outcome: 'error', message: undefined, owner: 'alice' });
    expect(finish.error).toBeInstanceOf(APIError);
  });

  it('stopped: POST chat/stop; the partial message; the upstream request is aborted', async () => {
    const app = await start(resume());
    server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 6, usage: { input_tokens: 11 } }), { stallAfter: 4 }));
    const read = await openAndRead(`${app.url}/chat/stream`, 4, {
      method: 'POST',
      body: { q: 'hi' },
      headers: as('alice'),
    });

    const response = await postJson(`${app.url}/chat/stop`, { id: read.events.at(-1)!.id }, as('alice'));
    expect(await response.json()).toEqual({ stopped: true });
    await within(read.ended, 5_000, 'the stream to end');

    expect(namesOf(read.events).at(-1)).toBe('stopped');
    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({
      call: 'stream',
      outcome: 'stopped',
      message: { stop_reason: null },
      usage: { input_tokens: 11 },
      lowerBound: true,
      owner: 'alice',
    });
    expect(finish).not.toHaveProperty('error');
    expect(textOf(finish.message)).toBe(ANSWER.slice(0, 12));
    await closedByClient(server.requests[0]);
  });

  it('grace_aborted: the client leaves and nobody reads for graceMs; the upstream request is aborted', async () => {
    const app = await start(resume({ graceMs: 150 }));
    server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 6 }), { stallAfter: 4 }));
    const read = await openAndRead(`${app.url}/chat/stream`, 4, {
      method: 'POST',
      body: { q: 'hi' },
      headers: as('bob'),
    });
    read.close();

    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({ call: 'stream', outcome: 'grace_aborted', lowerBound: true, owner: 'bob' });
    expect(textOf(finish.message)).toBe(ANSWER.slice(0, 12));
    await closedByClient(server.requests[0]);
  });

  it.each([0, 100])('shutdown: app.close() mid-stream (drainMs: %i)', async (drainMs) => {
    const app = await start(resume({ drainMs }));
    server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 6 }), { stallAfter: 4 }));
    const read = await openAndRead(`${app.url}/chat/stream`, 4, {
      method: 'POST',
      body: { q: 'hi' },
      headers: as('carol'),
    });

    await app.app.close();
    t = undefined;
    await within(read.ended, 5_000, 'the response to end');

    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({ call: 'stream', outcome: 'shutdown', lowerBound: true, owner: 'carol' });
    expect(finish.error).toBeInstanceOf(ClaudeStreamShutdownError);
    await closedByClient(server.requests[0]);
  });

  it("runTools (agent/run): call 'runTools', the last turn's message", async () => {
    const app = await start(resume());
    server.enqueue(
      streamReply(
        toolUseMessage(
          'get_weather',
          { city: 'Oslo' },
          { id: 'msg_r1', usage: { input_tokens: 50, output_tokens: 10 } },
        ),
      ),
      streamReply(textMessage('Snow in Oslo.', { id: 'msg_r2', usage: { input_tokens: 70, output_tokens: 4 } })),
    );

    const read = await readStream(`${app.url}/agent/run`, {
      method: 'POST',
      body: { q: 'weather?' },
      headers: as('dan'),
    });

    expect(namesOf(read.events).at(-1)).toBe('done');
    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({
      call: 'runTools',
      outcome: 'complete',
      message: { id: 'msg_r2' },
      usage: { input_tokens: 120, output_tokens: 14 },
      lowerBound: false,
      owner: 'dan',
    });
  });

  it('stopped, for a runTools run', async () => {
    const app = await start(resume());
    server.enqueue(
      streamReply(toolUseMessage('get_weather', { city: 'Rome' }, { id: 'msg_s1' })),
      streamReply(textMessage(ANSWER, { id: 'msg_s2', chunkSize: 6 }), { stallAfter: 4 }),
    );
    let lastId: string | undefined;
    const secondTurn = eventWhere((event) => {
      lastId = event.id;
      return event.event === 'content_block_delta' && event.data.includes(ANSWER.slice(0, 6));
    });
    const read = await openStream(`${app.url}/agent/run`, {
      method: 'POST',
      body: { q: 'weather?' },
      headers: as('erin'),
      onEvent: secondTurn.onEvent,
    });
    await within(secondTurn.arrived, 5_000, 'the second turn');

    const response = await postJson(`${app.url}/chat/stop`, { id: lastId }, as('erin'));
    expect(await response.json()).toEqual({ stopped: true });
    await within(read.ended, 5_000, 'the stream to end');

    const finish = await theOnlyFinish();
    expect(finish).toMatchObject({ call: 'runTools', outcome: 'stopped', message: { id: 'msg_s2' }, owner: 'erin' });
    await closedByClient(server.requests[1]);
  });
});
