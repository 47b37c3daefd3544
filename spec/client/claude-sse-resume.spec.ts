import { ClaudeRxError } from 'claude-rx';
import { ClaudeSseConnectionError, ClaudeSseHttpError, claudeSse, type ClaudeSseOptions } from 'claude-rx/client';
import { FakeClaudeServer, streamReply, textMessage } from 'claude-rx/testing';
import { CuttableProxy } from '../support/cuttable-proxy.js';
import { startResumableApp, type AdapterName, type ResumableApp } from '../nest-module/support/resumable-app.js';
import {
  as,
  closedPortUrl,
  collect,
  completion,
  countOf,
  errorOf,
  expectCompleted,
  moduleOptions,
  recordingFetch,
  textOf,
  within,
  type SentRequest,
} from './support/client-harness.js';

// A dropped connection, end to end: the client talks to a real Nest app through a TCP proxy whose `cut()` destroys
// every connection, as a network drop does. The client must reconnect by itself with Last-Event-ID when the stream
// is resumable, deliver every event once, and never send a request that would start a new (paid) answer.

let server: FakeClaudeServer;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
});
afterAll(() => server.close());

let t: ResumableApp | undefined;
let proxy: CuttableProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await t?.app.close();
  t = undefined;
  server.reset();
});

/** A resumable app (or not, with `resume` left out of `overrides`) behind a cuttable proxy. */
async function start(
  overrides: Parameters<typeof moduleOptions>[1] = { resume: { graceMs: 5_000 } },
  adapter: AdapterName = 'express',
): Promise<{ app: ResumableApp; proxy: CuttableProxy }> {
  t = await startResumableApp(moduleOptions(server, overrides), adapter);
  proxy = await CuttableProxy.start(t.url);
  return { app: t, proxy };
}

const REPLY_TEXT =
  'A dropped connection is resumed where it stopped: every event once, in order, and nothing paid twice.';
/** About 30 events, 20 ms apart: a cut after the fifth lands mid-answer. */
const PACED = streamReply(textMessage(REPLY_TEXT, { chunkSize: 4 }), { delayMs: 20 });
const CUT_AFTER = 5;

const FAST: NonNullable<ClaudeSseOptions['reconnect']> = { baseDelayMs: 20, maxDelayMs: 100 };

describe('claudeSse: a dropped connection of a resumable stream', () => {
  it.each<[AdapterName, 'GET' | 'POST', 'the resume route' | 'the same request']>([
    ['express', 'POST', 'the resume route'],
    ['express', 'GET', 'the same request'],
    ['express', 'POST', 'the same request'],
    ['fastify', 'POST', 'the resume route'],
    ['fastify', 'GET', 'the same request'],
  ])(
    '%s, %s, resumed by %s: every event once, in order; one upstream request, never aborted',
    async (adapter, method, resumedBy) => {
      const { proxy } = await start({ resume: { graceMs: 5_000 } }, adapter);
      server.enqueue(PACED);
      const sent: SentRequest[] = [];
      const reconnecting: { attempt: number; delayMs: number }[] = [];
      const streamIds: string[] = [];
      const read = collect(
        claudeSse(method === 'GET' ? `${proxy.url}/chat/stream?q=hello` : `${proxy.url}/chat/stream`, {
          ...(method === 'POST' && { body: { q: 'hello' } }),
          headers: as('alice'),
          ...(resumedBy === 'the resume route' && {
            resume: { url: `${proxy.url}/chat/resume`, method: 'POST', headers: as('alice') },
          }),
          reconnect: FAST,
          fetch: recordingFetch(sent),
          onReconnecting: (info) => reconnecting.push(info),
          onStreamId: (id) => streamIds.push(id),
        }),
        (_, events) => {
          if (events.length === CUT_AFTER) proxy.cut();
        },
      );

      await completion(read);

      expect(textOf(read.events)).toBe(REPLY_TEXT);
      expect(countOf(read.events, 'message_start')).toBe(1);
      expect(countOf(read.events, 'message_stop')).toBe(1);
      expect(read.events.at(-1)?.type).toBe('message_stop');
      expect(streamIds).toEqual([expect.stringMatching(/^[\w-]{22}$/) as string]);
      // The reconnect carried the id of the fifth event: `<stream id>.5`.
      expect(sent.map((request) => request.lastEventId)).toEqual([null, `${streamIds[0]}.${CUT_AFTER}`]);
      expect(sent[1]!.url).toBe(resumedBy === 'the resume route' ? `${proxy.url}/chat/resume` : sent[0]!.url);
      expect(sent[1]!.method).toBe(resumedBy === 'the resume route' ? 'POST' : method);
      expect(reconnecting).toEqual([
        { attempt: 1, delayMs: 20 },
        { attempt: 0, delayMs: 0 },
      ]);
      expect(proxy.connections).toBeGreaterThanOrEqual(2);
      expect(server.requests).toHaveLength(1);
      await expectCompleted(server.requests[0]);
    },
  );

  // The stream id is taken from the ids themselves: a client without `onStreamId` resumes all the same.
  it('without onStreamId: a cut is resumed all the same, every event once', async () => {
    const { proxy } = await start();
    server.enqueue(PACED);
    const sent: SentRequest[] = [];
    const read = collect(
      claudeSse(`${proxy.url}/chat/stream`, {
        body: { q: 'no callbacks' },
        headers: as('alice'),
        reconnect: FAST,
        fetch: recordingFetch(sent),
      }),
      (_, events) => {
        if (events.length === CUT_AFTER) proxy.cut();
      },
    );

    await completion(read);

    expect(textOf(read.events)).toBe(REPLY_TEXT);
    expect(countOf(read.events, 'message_start')).toBe(1);
    expect(sent.map((request) => request.lastEventId)).toEqual([null, expect.stringMatching(/^[\w-]{22}\.5$/)]);
    expect(server.requests).toHaveLength(1);
    await expectCompleted(server.requests[0]);
  });

  it('maxAttempts counts failed reconnects in a row: with 1, two cuts are each resumed', async () => {
    const { proxy } = await start();
    server.enqueue(PACED);
    const sent: SentRequest[] = [];
    const reconnecting: number[] = [];
    const read = collect(
      claudeSse(`${proxy.url}/chat/stream?q=twice`, {
        headers: as('alice'),
        reconnect: { ...FAST, maxAttempts: 1 },
        fetch: recordingFetch(sent),
        onReconnecting: ({ attempt }) => reconnecting.push(attempt),
      }),
      (_, events) => {
        if (events.length === CUT_AFTER || events.length === 2 * CUT_AFTER) proxy.cut();
      },
    );

    await completion(read);

    expect(reconnecting).toEqual([1, 0, 1, 0]);
    expect(sent.map((request) => request.lastEventId?.replace(/^.*\./, ''))).toEqual([
      undefined,
      String(CUT_AFTER),
      String(2 * CUT_AFTER),
    ]);
    expect(textOf(read.events)).toBe(REPLY_TEXT);
    expect(countOf(read.events, 'message_start')).toBe(1);
    expect(server.requests).toHaveLength(1);
    await expectCompleted(server.requests[0]);
  });

  it('a resume that replays events already delivered: each is delivered once', async () => {
    const { proxy } = await start();
    server.enqueue(PACED);
    const sent: SentRequest[] = [];
    let askedFor: string | undefined;
    // The real fetch, but the reconnect asks from the stream's second event: events 3 to 5 come again.
    const rewind = recordingFetch(sent, (lastEventId) => {
      askedFor = lastEventId;
      return lastEventId.replace(/\.\d+$/, '.2');
    });
    const read = collect(
      claudeSse(`${proxy.url}/chat/stream?q=again`, {
        headers: as('alice'),
        reconnect: FAST,
        fetch: rewind,
      }),
      (_, events) => {
        if (events.length === CUT_AFTER) proxy.cut();
      },
    );

    await completion(read);

    expect(askedFor).toMatch(new RegExp(`\\.${CUT_AFTER}$`));
    expect(sent.map((request) => request.lastEventId)).toEqual([null, askedFor!.replace(/\.\d+$/, '.2')]);
    expect(textOf(read.events)).toBe(REPLY_TEXT);
    expect(countOf(read.events, 'message_start')).toBe(1);
    expect(countOf(read.events, 'content_block_start')).toBe(1);
    expect(server.requests).toHaveLength(1);
    await expectCompleted(server.requests[0]);
  });
});

describe('claudeSse: a dropped connection that cannot be resumed', () => {
  it('an app without resume (numeric ids): ClaudeSseConnectionError, and the request is never sent again', async () => {
    const { proxy } = await start({});
    server.enqueue(PACED);
    const sent: SentRequest[] = [];
    const reconnecting: unknown[] = [];
    const streamIds: string[] = [];
    const read = collect(
      claudeSse(`${proxy.url}/chat/stream?q=once`, {
        reconnect: FAST,
        fetch: recordingFetch(sent),
        onReconnecting: (info) => reconnecting.push(info),
        onStreamId: (id) => streamIds.push(id),
      }),
      (_, events) => {
        if (events.length === CUT_AFTER) proxy.cut();
      },
    );

    const error = await errorOf(read);

    expect(error).toBeInstanceOf(ClaudeSseConnectionError);
    expect(error).toBeInstanceOf(ClaudeRxError);
    expect(error).toMatchObject({ name: 'ClaudeSseConnectionError', code: 'CLAUDE_RX_SSE_CONNECTION', attempts: 0 });
    expect(read.events).toHaveLength(CUT_AFTER);
    expect(streamIds).toEqual([]);
    expect(reconnecting).toEqual([]);
    expect(sent).toHaveLength(1);
    // Not resumable: the app aborts the upstream request when its reader leaves.
    const [request] = server.requests;
    await within(request!.closed, 2_000, 'the upstream request to be aborted');
    expect(request!.closedByClient).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('resume: false on a resumable app: ClaudeSseConnectionError, nothing sent again', async () => {
    const { proxy } = await start();
    server.enqueue(PACED);
    const sent: SentRequest[] = [];
    const read = collect(
      claudeSse(`${proxy.url}/chat/stream?q=once`, {
        headers: as('alice'),
        resume: false,
        reconnect: FAST,
        fetch: recordingFetch(sent),
      }),
      (_, events) => {
        if (events.length === CUT_AFTER) proxy.cut();
      },
    );

    const error = await errorOf(read);

    expect(error).toBeInstanceOf(ClaudeSseConnectionError);
    expect(error).toMatchObject({ attempts: 0 });
    expect(read.events).toHaveLength(CUT_AFTER);
    expect(sent).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['the proxy is gone (its listener closed)', 'same request'],
    ['the resume URL has nothing listening', 'closed port'],
  ] as const)(
    '%s: maxAttempts reconnects, then ClaudeSseConnectionError with attempts === maxAttempts',
    async (_, where) => {
      const maxAttempts = 3;
      const { proxy } = await start();
      server.enqueue(PACED);
      const deadUrl = await closedPortUrl();
      const sent: SentRequest[] = [];
      const reconnecting: { attempt: number; delayMs: number }[] = [];
      const read = collect(
        claudeSse(`${proxy.url}/chat/stream?q=gone`, {
          headers: as('alice'),
          ...(where === 'closed port' && { resume: { url: `${deadUrl}/chat/resume`, method: 'POST' } }),
          reconnect: { maxAttempts, baseDelayMs: 10, maxDelayMs: 25 },
          fetch: recordingFetch(sent),
          onReconnecting: (info) => reconnecting.push(info),
        }),
        (_, events) => {
          if (events.length !== CUT_AFTER) return;
          if (where === 'same request') void proxy.close();
          else proxy.cut();
        },
      );

      const error = await errorOf(read);

      expect(error).toBeInstanceOf(ClaudeSseConnectionError);
      expect(error).toMatchObject({ code: 'CLAUDE_RX_SSE_CONNECTION', attempts: maxAttempts });
      // The last reconnect's failure (fetch's own error, from Node's realm: matched by shape).
      expect((error as Error).cause).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
      expect(reconnecting).toEqual([
        { attempt: 1, delayMs: 10 },
        { attempt: 2, delayMs: 20 },
        { attempt: 3, delayMs: 25 },
      ]);
      expect(sent).toHaveLength(1 + maxAttempts);
      expect(sent.slice(1).every((request) => request.lastEventId?.endsWith(`.${CUT_AFTER}`))).toBe(true);
      expect(read.events).toHaveLength(CUT_AFTER);
      expect(server.requests).toHaveLength(1);
    },
  );
});

describe('claudeSse: a resume the server refuses or has nothing for', () => {
  it('the stream is unknown to the resume (another owner): ClaudeSseHttpError 404, not retried', async () => {
    const { proxy } = await start();
    server.enqueue(PACED);
    const sent: SentRequest[] = [];
    const reconnecting: { attempt: number; delayMs: number }[] = [];
    const read = collect(
      claudeSse(`${proxy.url}/chat/stream?q=mine`, {
        headers: as('alice'),
        resume: { url: `${proxy.url}/chat/resume`, method: 'POST', headers: as('mallory') },
        reconnect: FAST,
        fetch: recordingFetch(sent),
        onReconnecting: (info) => reconnecting.push(info),
      }),
      (_, events) => {
        if (events.length === CUT_AFTER) proxy.cut();
      },
    );

    const error = await errorOf(read);

    expect(error).toBeInstanceOf(ClaudeSseHttpError);
    expect(error).toMatchObject({ code: 'CLAUDE_RX_SSE_HTTP', status: 404 });
    expect(reconnecting).toEqual([{ attempt: 1, delayMs: 20 }]);
    expect(sent).toHaveLength(2);
    expect(read.events).toHaveLength(CUT_AFTER);
    expect(server.requests).toHaveLength(1);
  });

  it('the stream has expired (ttlMs) before the reconnect: ClaudeSseHttpError 404', async () => {
    // The grace aborts the stream 50 ms after the cut; it expires 100 ms later; the reconnect comes after 600 ms.
    const { proxy } = await start({ resume: { graceMs: 50, ttlMs: 100 } });
    server.enqueue(PACED);
    const sent: SentRequest[] = [];
    const read = collect(
      claudeSse(`${proxy.url}/chat/stream?q=late`, {
        headers: as('alice'),
        reconnect: { baseDelayMs: 600 },
        fetch: recordingFetch(sent),
      }),
      (_, events) => {
        if (events.length === CUT_AFTER) proxy.cut();
      },
    );

    const error = await errorOf(read);

    expect(error).toBeInstanceOf(ClaudeSseHttpError);
    expect(error).toMatchObject({ status: 404 });
    expect(sent).toHaveLength(2);
    const [request] = server.requests;
    expect(request!.closedByClient).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it("a resume from the stream's final event: 204, and the Observable completes without error", async () => {
    const { app, proxy } = await start();
    server.enqueue(PACED);
    const sent: SentRequest[] = [];
    let finalId: string | undefined;
    // The connection drops just as `done` was written: the reconnect names the final event (the real fetch, with the
    // header moved to the id the stream ended on, read from the app's own resume route).
    const atTheEnd = recordingFetch(sent, () => finalId!);
    const read = collect(
      claudeSse(`${proxy.url}/chat/stream?q=end`, {
        headers: as('alice'),
        reconnect: { baseDelayMs: 50 },
        fetch: async (input, init) => {
          const lastEventId = new Headers(init?.headers).get('last-event-id');
          if (lastEventId !== null) finalId = await finalEventId(app.url, lastEventId);
          return atTheEnd(input, init);
        },
      }),
      (_, events) => {
        if (events.length === CUT_AFTER) proxy.cut();
      },
    );

    await completion(read);

    expect(sent.map((request) => request.lastEventId)).toEqual([null, finalId]);
    expect(read.events).toHaveLength(CUT_AFTER);
    expect(server.requests).toHaveLength(1);
    await expectCompleted(server.requests[0]);
  });
});

/** The id of a stream's final event, read to the end from the app's resume route. */
async function finalEventId(appUrl: string, from: string): Promise<string> {
  const response = await fetch(`${appUrl}/chat/resume`, {
    method: 'POST',
    headers: { ...as('alice'), 'last-event-id': from },
  });
  const body = await response.text();
  const ids = [...body.matchAll(/^id: ?(.*)$/gm)].map((match) => match[1]!);
  expect(body).toMatch(/^event: ?done$/m);
  return ids.at(-1)!;
}
