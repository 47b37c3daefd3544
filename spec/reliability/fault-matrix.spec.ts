import Anthropic, {
  APIConnectionError,
  APIError,
  AuthenticationError,
  BadRequestError,
  ContentTooLargeError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { concatMap, from, identity, lastValueFrom, map, timer, toArray, type Observable } from 'rxjs';
import {
  ChunkTimeoutError,
  IncompleteStreamError,
  accumulateMessage,
  claudeStream,
  finalMessage,
  type ClaudeRxEvent,
} from 'claude-rx';
import type { ClaudeFailureType } from 'claude-rx/nest';
import {
  FakeClaudeServer,
  errorReply,
  recordedReply,
  resetBeforeHeaders,
  sseFrame,
  stallBeforeHeaders,
  streamReply,
  textMessage,
  type FakeReply,
  type FakeStreamEvent,
} from 'claude-rx/testing';
import { PARAMS, TEST_API_KEY } from '../support/harness.js';
import { fetchSse, type SseResponse } from './sse-reader.js';
import {
  HEADER_SECRET,
  captureConsole,
  closedPortUrl,
  defaultStack,
  errorOutputs,
  expectResourcesBackTo,
  leaks,
  openResources,
  startNestApp,
  trackNewResources,
  watchProcess,
} from './support.js';

// ---------------------------------------------------------------------------------------------------------------
// Upstream scripts
// ---------------------------------------------------------------------------------------------------------------

const TEXT = 'Hello there, how are you today?';
const ANSWER = textMessage(TEXT, { chunkSize: 4 });
/** The answer with content already delivered: message_start, content_block_start and two text deltas. */
const AFTER_CONTENT = 4;
const ok = () => streamReply(ANSWER);
const midStreamError = (type: string, events = AFTER_CONTENT) =>
  streamReply(ANSWER, { errorAfter: { events, error: { type, message: `mid-stream ${type}` } } });

const frames = (events: readonly FakeStreamEvent[]) => events.map((event) => sseFrame(event.type, event));
const [START, BLOCK_START, ...REST] = ANSWER;
/** Raw SSE with the `data:` of frame `at` replaced by text that is not JSON. */
const notJsonAt = (at: number) =>
  recordedReply(
    frames(ANSWER)
      .map((frame, i) => (i === at ? 'event: content_block_delta\ndata: {"type": nope\n\n' : frame))
      .join(''),
  );
/** Types the SDK does not know yet: an event, a delta and a content block. The API adds new ones. */
const UNKNOWN_TYPES: FakeStreamEvent[] = [
  START!,
  { type: 'future_event', detail: 1 },
  BLOCK_START!,
  { type: 'content_block_delta', index: 0, delta: { type: 'future_delta', detail: 2 } },
  ...REST.slice(0, -2),
  { type: 'content_block_start', index: 1, content_block: { type: 'future_block', detail: 3 } },
  { type: 'content_block_stop', index: 1 },
  ...REST.slice(-2),
];
/** 1 MB of text in a single delta, multi-byte characters included. */
const MEGABYTE = 'Ünïcödé 1 MB, in one delta. '.repeat(38_000).slice(0, 1_000_000);
/** Many small deltas, for a consumer slower than the stream. */
const LONG = Array.from({ length: 400 }, (_, i) => `Line ${i} of a long answer.\n`).join('');
/** An HTTP date about a second ahead (HTTP dates have a resolution of one second). */
const inASecond = () => new Date(Date.now() + 1_500).toUTCString();

// ---------------------------------------------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------------------------------------------

type ErrorClass = abstract new (...args: never[]) => Error;
type StreamOutcome =
  | { readonly kind: 'completes'; readonly text: string }
  | { readonly kind: 'fails'; readonly error: ErrorClass; readonly props: Record<string, unknown> };
type SseOutcome =
  | { readonly kind: 'done'; readonly text: string }
  | { readonly kind: 'status'; readonly status: number; readonly type: ClaudeFailureType; readonly retryAfter?: string }
  | { readonly kind: 'errorEvent'; readonly type: ClaudeFailureType };

const completes = (text = TEXT): StreamOutcome => ({ kind: 'completes', text });
const fails = (error: ErrorClass, props: Record<string, unknown> = {}): StreamOutcome => ({
  kind: 'fails',
  error,
  props,
});
const done = (text = TEXT): SseOutcome => ({ kind: 'done', text });
const status = (code: number, type: ClaudeFailureType, retryAfter?: string): SseOutcome => ({
  kind: 'status',
  status: code,
  type,
  ...(retryAfter === undefined ? {} : { retryAfter }),
});
const errorEvent = (type: ClaudeFailureType): SseOutcome => ({ kind: 'errorEvent', type });

interface Fault {
  /** What goes wrong. */
  readonly fault: string;
  /** The fake server's replies, in order (made per run: dates are relative to now). */
  readonly replies: () => FakeReply[];
  /** What `claudeStream(...).pipe(defaultStack())` does. */
  readonly claudeStream: StreamOutcome;
  /** What a client of the NestJS SSE endpoint (`ClaudeStreamService.sse()`, same limits) gets. */
  readonly sse: SseOutcome;
  /** Upstream requests sent: 2 when the operator retried once (the SDK's own retries are off). */
  readonly requests: number;
  /**
   * Where the NestJS endpoint differs: its call shares one budget (1 + `retry.maxRetries` requests) between the SDK's
   * retries before the first byte (408, 409, 429, 5xx, connection errors) and the operator's after it.
   */
  readonly nest?: { readonly sse?: SseOutcome; readonly requests: number };
  /** `aborted`: the client aborted the (last) upstream request; otherwise the server ended it. */
  readonly upstream?: 'aborted';
  /** The retry waited at least this long, measured at the server. */
  readonly waitMs?: number;
  /** The API's address refuses connections. */
  readonly refused?: true;
  /** The consumer reads slowly (`concatMap` with a delay; an SSE client that pauses before each read). */
  readonly slow?: true;
  /** The text of a stream that completes, when it is not `TEXT`. */
  readonly checkEvents?: (events: ClaudeRxEvent[]) => Promise<void>;
}

/** Unknown types are forwarded, and the operators that build messages do not choke on them. */
async function forwardsUnknownTypes(events: ClaudeRxEvent[]): Promise<void> {
  const described = events.map((event) => {
    const { type, delta, content_block } = event as {
      type: string;
      delta?: { type?: string };
      content_block?: { type: string };
    };
    return [type, delta?.type ?? content_block?.type].filter(Boolean).join(':');
  });
  expect(described).toEqual(
    expect.arrayContaining(['future_event', 'content_block_delta:future_delta', 'content_block_start:future_block']),
  );
  const message = await lastValueFrom(from(events).pipe(finalMessage()));
  expect(message.content[0]).toMatchObject({ type: 'text', text: TEXT });
  expect(message.content[1]).toMatchObject({ type: 'future_block', detail: 3 });
  const snapshots = await lastValueFrom(from(events).pipe(accumulateMessage(), toArray()));
  expect(snapshots.at(-1)).toEqual(message);
}

// ---------------------------------------------------------------------------------------------------------------
// The matrix. `claudeStream` runs with the default stack: timeoutBetweenChunks({ first: 500, each: 500 }) then
// retryOnRateLimit({ maxRetries: 1, baseDelayMs: 20, maxDelayMs: 2000 }); the Nest module has the same limits.
// ---------------------------------------------------------------------------------------------------------------

// prettier-ignore
const MATRIX: Fault[] = [
  { fault: 'HTTP 400',                              replies: () => [errorReply(400)],                                   claudeStream: fails(BadRequestError, { status: 400 }),         sse: status(502, 'upstream_error'),           requests: 1 },
  { fault: 'HTTP 401',                              replies: () => [errorReply(401)],                                   claudeStream: fails(AuthenticationError, { status: 401 }),     sse: status(502, 'upstream_error'),           requests: 1 },
  { fault: 'HTTP 403',                              replies: () => [errorReply(403)],                                   claudeStream: fails(PermissionDeniedError, { status: 403 }),   sse: status(502, 'upstream_error'),           requests: 1 },
  { fault: 'HTTP 404',                              replies: () => [errorReply(404)],                                   claudeStream: fails(NotFoundError, { status: 404 }),           sse: status(502, 'upstream_error'),           requests: 1 },
  { fault: 'HTTP 413',                              replies: () => [errorReply(413)],                                   claudeStream: fails(ContentTooLargeError, { status: 413 }),    sse: status(502, 'upstream_error'),           requests: 1 },
  { fault: 'HTTP 429, retry-after-ms: 200',         replies: () => [errorReply(429, { retryAfterMs: 200 }), ok()],      claudeStream: completes(),                                     sse: done(),                                  requests: 2, waitMs: 190 },
  { fault: 'HTTP 429, retry-after: 1',              replies: () => [errorReply(429, { retryAfterSeconds: 1 }), ok()],   claudeStream: completes(),                                     sse: done(),                                  requests: 2, waitMs: 990 },
  { fault: 'HTTP 429, retry-after: <HTTP date>',    replies: () => [errorReply(429, { retryAfterSeconds: inASecond() }), ok()], claudeStream: completes(),                             sse: done(),                                  requests: 2, waitMs: 400 },
  { fault: 'HTTP 429 twice (retries used up)',      replies: () => [errorReply(429, { retryAfterMs: 50 }), errorReply(429, { retryAfterMs: 50 })], claudeStream: fails(RateLimitError, { status: 429 }), sse: status(429, 'rate_limit_error', '1'), requests: 2, waitMs: 45 },
  { fault: 'HTTP 500',                              replies: () => [errorReply(500), errorReply(500)],                  claudeStream: fails(InternalServerError, { status: 500 }),     sse: status(502, 'upstream_error'),           requests: 1, nest: { requests: 2 } },
  { fault: 'HTTP 500, then an answer',              replies: () => [errorReply(500), ok()],                             claudeStream: fails(InternalServerError, { status: 500 }),     sse: status(502, 'upstream_error'),           requests: 1, nest: { sse: done(), requests: 2 } },
  { fault: 'HTTP 529 twice (retries used up)',      replies: () => [errorReply(529), errorReply(529)],                  claudeStream: fails(OverloadedError, { status: 529 }),         sse: status(503, 'overloaded_error'),         requests: 2 },
  { fault: 'connection refused',                    replies: () => [],                                                  claudeStream: fails(APIConnectionError),                       sse: status(502, 'upstream_error'),           requests: 0, refused: true },
  { fault: 'socket reset before headers',           replies: () => [resetBeforeHeaders(), resetBeforeHeaders()],        claudeStream: fails(APIConnectionError),                       sse: status(502, 'upstream_error'),           requests: 1, nest: { requests: 2 } },
  { fault: 'socket reset mid-stream',               replies: () => [streamReply(ANSWER, { resetAfter: AFTER_CONTENT })], claudeStream: fails(IncompleteStreamError, { cause: expect.objectContaining({ message: 'terminated' }) }), sse: errorEvent('incomplete_stream_error'), requests: 1 },
  { fault: 'clean end without message_stop',        replies: () => [streamReply(ANSWER, { omitMessageStop: true })],    claudeStream: fails(IncompleteStreamError, { cause: undefined, partial: expect.objectContaining({ stop_reason: 'end_turn' }) }), sse: errorEvent('incomplete_stream_error'), requests: 1 },
  { fault: 'event: error overloaded_error, after content',  replies: () => [midStreamError('overloaded_error')], claudeStream: fails(APIError, { status: undefined, type: 'overloaded_error' }), sse: errorEvent('overloaded_error'), requests: 1 },
  { fault: 'event: error rate_limit_error, after content',  replies: () => [midStreamError('rate_limit_error')], claudeStream: fails(APIError, { status: undefined, type: 'rate_limit_error' }), sse: errorEvent('rate_limit_error'), requests: 1 },
  { fault: 'event: error api_error, after content', replies: () => [midStreamError('api_error')],                       claudeStream: fails(APIError, { status: undefined, type: 'api_error' }), sse: errorEvent('upstream_error'),    requests: 1 },
  { fault: 'event: error overloaded_error, before content', replies: () => [midStreamError('overloaded_error', 2), ok()], claudeStream: completes(),                                 sse: done(),                                  requests: 2 },
  { fault: 'stall before the response headers',     replies: () => [stallBeforeHeaders()],                              claudeStream: fails(ChunkTimeoutError, { info: { bound: 'first', limitMs: 500, eventsSeen: 0 } }), sse: status(504, 'timeout_error'), requests: 1, upstream: 'aborted' },
  { fault: 'stall after the headers, before the first event', replies: () => [streamReply(ANSWER, { stallAfter: 0 })], claudeStream: fails(ChunkTimeoutError, { info: { bound: 'first', limitMs: 500, eventsSeen: 0 } }), sse: status(504, 'timeout_error'), requests: 1, upstream: 'aborted' },
  { fault: 'stall mid-stream',                      replies: () => [streamReply(ANSWER, { stallAfter: AFTER_CONTENT })], claudeStream: fails(ChunkTimeoutError, { info: { bound: 'each', limitMs: 500, eventsSeen: AFTER_CONTENT } }), sse: errorEvent('timeout_error'), requests: 1, upstream: 'aborted' },
  { fault: 'a data: line that is not JSON, mid-stream', replies: () => [notJsonAt(2)],                                  claudeStream: fails(IncompleteStreamError, { cause: expect.objectContaining({ name: 'SyntaxError' }) }), sse: errorEvent('incomplete_stream_error'), requests: 1 },
  { fault: 'a data: line that is not JSON, first',  replies: () => [notJsonAt(0)],                                      claudeStream: fails(SyntaxError),                              sse: status(502, 'upstream_error'),           requests: 1 },
  { fault: 'unknown event, delta and block types',  replies: () => [recordedReply(frames(UNKNOWN_TYPES).join(''))],     claudeStream: completes(),                                     sse: done(),                                  requests: 1, checkEvents: forwardsUnknownTypes },
  { fault: 'a 1 MB single delta',                   replies: () => [streamReply(textMessage(MEGABYTE, { chunkSize: 1_000_000 }))], claudeStream: completes(MEGABYTE),            sse: done(MEGABYTE),                          requests: 1 },
  { fault: 'a consumer that reads slowly',          replies: () => [streamReply(textMessage(LONG, { chunkSize: 30 }))], claudeStream: completes(LONG),                             sse: done(LONG),                              requests: 1, slow: true },
];

// ---------------------------------------------------------------------------------------------------------------

function textOf(events: readonly ClaudeRxEvent[]): string {
  return events
    .map((event) => (event.type === 'content_block_delta' && event.delta.type === 'text_delta' ? event.delta.text : ''))
    .join('');
}

function sseTextOf(read: SseResponse): string {
  return read.events
    .filter((event) => event.event === 'content_block_delta')
    .map((event) => JSON.parse(event.data) as { delta: { type: string; text?: string } })
    .map((event) => (event.delta.type === 'text_delta' ? event.delta.text : ''))
    .join('');
}

/** Every value and the error (if any) of an Observable, once it ends. */
function settle<T>(source: Observable<T>): Promise<{ values: T[]; error?: unknown }> {
  const values: T[] = [];
  return new Promise((resolve) => {
    source.subscribe({
      next: (value) => values.push(value),
      error: (error: unknown) => resolve({ values, error }),
      complete: () => resolve({ values }),
    });
  });
}

/** Runs `body` against a fresh fake server, checking the process is left as it was found. */
async function isolated(body: (server: FakeClaudeServer, outputs: string[]) => Promise<void>): Promise<void> {
  const before = openResources();
  const created = trackNewResources();
  const process = watchProcess();
  const consoleLines = captureConsole();
  const outputs: string[] = [];
  try {
    const server = await FakeClaudeServer.start();
    try {
      await body(server, outputs);
    } finally {
      await server.close();
    }
    expect(await created.stillOpen()).toEqual([]);
    await expectResourcesBackTo(before);
    expect(process.rejections).toEqual([]);
    expect(process.warnings).toEqual([]);
    // The secret search: every output of the run, the SDK's console lines included.
    outputs.push(...consoleLines.lines);
    expect(leaks(outputs)).toEqual([]);
  } finally {
    consoleLines.restore();
    process.stop();
    created.stop();
  }
}

/** Every upstream request of the run closed, carried the secrets (so that searching for them means something). */
async function expectUpstream(server: FakeClaudeServer, fault: Fault): Promise<void> {
  const requests = server.requests;
  expect(requests).toHaveLength(fault.requests);
  await Promise.all(requests.map((request) => request.closed));
  for (const request of requests) {
    expect(request.headers['authorization']).toBe(`Bearer ${TEST_API_KEY}`);
    expect(request.headers['x-api-key']).toBe(HEADER_SECRET);
  }
  if (fault.upstream === 'aborted') expect(requests.at(-1)!.closedByClient).toBe(true);
  if (fault.waitMs !== undefined) {
    expect(requests[1]!.receivedAt - requests[0]!.closedAt!).toBeGreaterThanOrEqual(fault.waitMs);
  }
}

const slowly = <T>() => concatMap((value: T) => timer(2).pipe(map(() => value)));

describe('fault matrix: claudeStream with the default stack', () => {
  it.each(MATRIX)('$fault', async (fault) => {
    await isolated(async (server, outputs) => {
      server.enqueue(...fault.replies());
      const baseURL = fault.refused ? await closedPortUrl() : server.url;
      const client = new Anthropic({ apiKey: TEST_API_KEY, baseURL, maxRetries: 0 });

      const events$ = claudeStream(client, PARAMS, { headers: { 'x-api-key': HEADER_SECRET } }).pipe(defaultStack());
      const { values: events, error } = await settle(events$.pipe(fault.slow ? slowly() : identity));

      const expected = fault.claudeStream;
      if (expected.kind === 'completes') {
        expect(error).toBeUndefined();
        expect(events.at(-1)?.type).toBe('message_stop');
        expect(textOf(events)).toBe(expected.text);
        await fault.checkEvents?.(events);
      } else {
        expect(error).toBeInstanceOf(expected.error);
        expect(error).toMatchObject(expected.props);
      }
      await expectUpstream(server, fault);
      outputs.push(...errorOutputs(error), JSON.stringify(events));
    });
  });
});

describe('fault matrix: the NestJS SSE endpoint', () => {
  it.each(MATRIX)('$fault', async (fault) => {
    await isolated(async (server, outputs) => {
      server.enqueue(...fault.replies());
      const nest = await startNestApp(fault.refused ? await closedPortUrl() : server.url);
      try {
        const read = await fetchSse(`${nest.url}/chat/stream?q=hello`, { pauseMs: fault.slow ? 10 : 0 });
        outputs.push(JSON.stringify([...read.headers]), read.raw);

        const expected = fault.nest?.sse ?? fault.sse;
        const names = read.events.map((event) => event.event);
        if (expected.kind === 'status') {
          expect(read.status).toBe(expected.status);
          expect(JSON.parse(read.raw)).toMatchObject({ statusCode: expected.status, type: expected.type });
          expect(read.headers.get('retry-after') ?? undefined).toBe(expected.retryAfter);
        } else {
          expect(read.status).toBe(200);
          expect(read.headers.get('content-type')).toMatch(/^text\/event-stream/);
          if (expected.kind === 'done') {
            expect(names.at(-1)).toBe('done');
            expect(names).not.toContain('error');
            expect(sseTextOf(read)).toBe(expected.text);
          } else {
            expect(names.at(-1)).toBe('error');
            expect(names).not.toContain('done');
            expect(JSON.parse(read.events.at(-1)!.data)).toEqual({
              type: expected.type,
              message: expect.any(String),
              retryable: expect.any(Boolean),
            });
          }
        }
        if (fault.checkEvents) {
          const forwarded = read.events
            .filter((event) => event.event !== 'done')
            .map((event) => JSON.parse(event.data) as ClaudeRxEvent);
          await fault.checkEvents(forwarded);
        }
        await expectUpstream(server, fault.nest ? { ...fault, requests: fault.nest.requests } : fault);
        // The failure was logged (so the log lines searched below are not empty by accident).
        if (expected.kind !== 'done') expect(nest.logger.lines.join('\n')).toContain('Claude stream failed');
      } finally {
        await nest.app.close();
        outputs.push(...nest.logger.lines);
      }
    });
  });
});

describe('SSE frames cannot be forged by content', () => {
  it('model text with "\\n\\nevent: done\\ndata: x" arrives as text in one event, not as a new event', async () => {
    const forging = 'before\n\nevent: done\ndata: x\n\nid: 999\r\nevent: error\rdata: {}\n\n: comment\nafter';
    await isolated(async (server, outputs) => {
      server.enqueue(streamReply(textMessage(forging, { chunkSize: forging.length })));
      const nest = await startNestApp(server.url);
      try {
        const read = await fetchSse(`${nest.url}/chat/stream?q=forge`);
        outputs.push(read.raw);

        expect(read.events.map((event) => event.event)).toEqual([
          'message_start',
          'content_block_start',
          'content_block_delta',
          'content_block_stop',
          'message_delta',
          'message_stop',
          'done',
        ]);
        expect(JSON.parse(read.events[2]!.data)).toMatchObject({ delta: { type: 'text_delta', text: forging } });
        expect(read.events.map((event) => event.id)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
      } finally {
        await nest.app.close();
      }
    });
  });
});
