import { jest } from '@jest/globals';
import Anthropic, { APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { take, tap } from 'rxjs';
import {
  claudeStream,
  IncompleteStreamError,
  partialMessageOf,
  type ClaudeStreamEvent,
  type ClaudeStreamParams,
} from 'claude-rx';
import {
  messageEvents,
  recordedReply,
  sseFrame,
  stallBeforeHeaders,
  streamReply,
  text,
  textMessage,
  thinking,
  toolUse,
  type FakeReply,
} from 'claude-rx/testing';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { PARAMS, sleep, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';
import { deeplyFrozen, outcomeOf, sdkRawStream, useSdkPath, type Outcome } from './support/paths.js';
import { startRawServer, SSE_HEADERS } from './support/raw-server.js';
import { between, pick, prng, recordedFixtures } from './support/wire.js';

// claudeStream reads an SSE body itself (readEventStream) when the SDK records no span. These tests run the same
// replies through that path and through the SDK's own iterator, and require the same events and the same failures.
// claude-rx's path is told apart by what only it does: it freezes the events it delivers.

const fake = useFakeClaude();
const paths = useSdkPath(fake);
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const CALL = 'anthropic.messages.create';

/** claudeStream on claude-rx's path (no tracer provider), for one reply. */
function fastPath(reply: FakeReply, client: Anthropic = fake.client, params: ClaudeStreamParams = PARAMS) {
  fake.server.enqueue(reply);
  return outcomeOf(claudeStream(client, params));
}

/** claudeStream on the SDK's path (a tracer provider registered), for one reply. */
function sdkPathOf(reply: FakeReply, params: ClaudeStreamParams = PARAMS) {
  fake.server.enqueue(reply);
  return paths.sdkPath((client) => outcomeOf(claudeStream(client, params)));
}

/** The SDK's raw stream, for one reply. */
function rawOf(reply: FakeReply) {
  fake.server.enqueue(reply);
  return sdkRawStream(fake.client, PARAMS);
}

function expectFastPath(outcome: Outcome<ClaudeStreamEvent>): void {
  expect(outcome.events.length).toBeGreaterThan(0);
  for (const event of outcome.events) expect(deeplyFrozen(event)).toBe(true);
}

/** Random SSE bodies: real events, framed with mixed line endings, pings, comments, unnamed and unknown events. */
function randomBody(seed: number): string {
  const random = prng(seed);
  const words = ['Hello', 'wörld', '日本語', '🎉', 'a\\b', '"quoted"', ' ', '\n', 'line\u2028sep', 'tab\t'];
  const sentence = () => Array.from({ length: between(random, 1, 12) }, () => pick(random, words)).join('');
  const blocks = Array.from({ length: between(random, 1, 3) }, () => {
    switch (between(random, 0, 2)) {
      case 0:
        return text(sentence(), { chunkSize: between(random, 1, 6) });
      case 1:
        return thinking(sentence(), `sig-${seed}`, { chunkSize: between(random, 1, 6) });
      default:
        return toolUse({
          name: 'lookup',
          input: { q: sentence(), n: between(random, 0, 9) },
          chunkSize: between(random, 1, 8),
        });
    }
  });
  const lines: string[] = [];
  for (const event of messageEvents(blocks)) {
    if (random() < 0.15) lines.push('event: ping', 'data: {"type": "ping"}', '');
    if (random() < 0.1) lines.push(': keep-alive');
    if (random() < 0.1) lines.push('data: {"type":"unnamed"}', ''); // no event: skipped
    if (random() < 0.1) lines.push(`id: ${seed}`, 'retry: 100');
    if (random() < 0.1) lines.push('event: future_event', `data: {"type":"future_event","n":${seed}}`, '');
    lines.push(`event:${random() < 0.5 ? ' ' : ''}${event.type}`);
    // Sometimes indented JSON, sent as several data lines (joined with \n again by the decoder).
    const json = random() < 0.2 ? JSON.stringify(event, null, 1) : JSON.stringify(event);
    for (const line of json.split('\n')) lines.push(`data: ${line}`);
    lines.push('');
  }
  let body = '';
  let previous = '';
  for (const line of lines) {
    // A blank line's `\n` right after a `\r` would make one `\r\n`: the blank line, and the message's end, lost.
    previous = pick(random, line === '' && previous === '\r' ? ['\r', '\r\n'] : ['\n', '\r\n', '\r']);
    body += line + previous;
  }
  return body;
}

describe('claudeStream reading the body itself (readEventStream)', () => {
  it('takes its own path without a tracer provider (frozen events), the SDK’s with one (not frozen)', async () => {
    const reply = streamReply(textMessage('Hello there', { id: 'msg_1' }));
    const fast = await fastPath(reply);
    expect(fast.completed).toBe(true);
    expectFastPath(fast);
    const sdk = await sdkPathOf(reply);
    expect(sdk.completed).toBe(true);
    expect(sdk.events.some((event) => Object.isFrozen(event))).toBe(false);
    expect(sdk.events).toEqual(fast.events);
  });

  it('a body that is not text/event-stream, or a client without withResponse: the SDK’s iterator (not frozen)', async () => {
    const body = textMessage('Hello there', { id: 'msg_2' })
      .map((event) => sseFrame(event.type, event))
      .join('');
    const notSse = await fastPath(recordedReply(body, { headers: { 'content-type': 'application/octet-stream' } }));
    expect(notSse.completed).toBe(true);
    expect(notSse.events.some((event) => Object.isFrozen(event))).toBe(false);
    // A promise without the SDK's APIPromise methods, as a wrapping client may return.
    const wrapped = {
      messages: {
        create: (params: never, options: never) =>
          fake.client.messages.create(params, options).then((stream) => stream),
      },
    } as unknown as Anthropic;
    const plain = await fastPath(recordedReply(body), wrapped);
    expect(plain.completed).toBe(true);
    expect(plain.events.some((event) => Object.isFrozen(event))).toBe(false);
    const fast = await fastPath(recordedReply(body));
    expectFastPath(fast);
    expect(notSse.events).toEqual(fast.events);
    expect(plain.events).toEqual(fast.events);
  });

  describe.each([...recordedFixtures()])('recorded %s', (_name, bytes) => {
    it.each([undefined, 1, 7, 64])('the SDK stream’s events and end, chunked by %s bytes', async (chunkBytes) => {
      const reply = recordedReply(bytes, chunkBytes === undefined ? {} : { chunkBytes });
      const raw = await rawOf(reply);
      const fast = await fastPath(reply);
      expectFastPath(fast);
      expect(fast.events).toEqual(raw.events);
      expect(raw.error).toBeUndefined();
      // A recording without message_stop (its last frame has no blank line) is incomplete, else it completes.
      const stopped = raw.events.some((event) => event.type === 'message_stop');
      expect(fast.completed).toBe(stopped);
      if (!stopped) expect(fast.error).toBeInstanceOf(IncompleteStreamError);
    });
  });

  it('random streams: the SDK stream’s events, chunked anywhere (mixed endings, multi-line data, pings)', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = prng(seed * 7919);
      const reply = recordedReply(randomBody(seed), { chunkBytes: between(random, 1, 80) });
      const raw = await rawOf(reply);
      const fast = await fastPath(reply);
      expect(raw.error).toBeUndefined();
      expect(fast.events).toEqual(raw.events);
      expect(fast.completed).toBe(true);
      expectFastPath(fast);
    }
  });

  it('skips ping and unnamed events, and yields an unknown named event, as the SDK does', async () => {
    const [start, ...rest] = textMessage('Hi');
    const body =
      sseFrame('message_start', start) +
      'event: ping\ndata: {"type": "ping"}\n\n' +
      'data: {"type":"content_block_stop","index":9}\n\n' +
      'event: future_event\ndata: {"type":"future_event"}\n\n' +
      rest.map((event) => sseFrame(event.type, event)).join('');
    const raw = await rawOf(recordedReply(body));
    const fast = await fastPath(recordedReply(body));
    expect(fast.events).toEqual(raw.events);
    expect(fast.events.map((event) => event.type)).toEqual([
      'message_start',
      'future_event',
      ...rest.map((event) => event.type),
    ]);
  });

  describe('a mid-stream event: error', () => {
    function expectSameApiError(fast: unknown, sdk: unknown): void {
      expect(fast).toBeInstanceOf(Anthropic.APIError);
      expect(sdk).toBeInstanceOf(Anthropic.APIError);
      const [a, b] = [fast as APIError, sdk as APIError];
      expect(a.constructor).toBe(b.constructor);
      for (const key of [
        'type',
        'status',
        'message',
        'error',
        'requestID',
        'apiMessage',
        'errorCode',
        'details',
      ] as const) {
        expect([key, a[key]]).toEqual([key, b[key]]);
      }
      expect(partialMessageOf(a)).toEqual(partialMessageOf(b));
    }

    it('is the SDK’s APIError with the same type, status, message, body and requestID', async () => {
      const [start, blockStart, delta] = textMessage('Hello there', { id: 'msg_fixed', chunkSize: 5 });
      const errorData =
        '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}';
      const body =
        [start, blockStart, delta].map((event) => sseFrame(event!.type, event)).join('') + sseFrame('error', errorData);
      const reply = recordedReply(body, { headers: { 'request-id': 'req_1' } });
      const fast = await fastPath(reply);
      const sdk = await sdkPathOf(reply);
      expect(fast.events).toEqual(sdk.events);
      expectSameApiError(fast.error, sdk.error);
      expect((fast.error as APIError).type).toBe('overloaded_error');
      expect((fast.error as APIError).requestID).toBe('req_1');
      expect(partialMessageOf(fast.error)?.content).toEqual([{ type: 'text', text: 'Hello' }]);
    });

    it('from the fake server’s errorAfter: the request id of each response', async () => {
      const reply = streamReply(textMessage('Hello there'), {
        errorAfter: { events: 3, error: { type: 'rate_limit_error', message: 'Slow down' } },
      });
      const fast = await fastPath(reply);
      const sdk = await sdkPathOf(reply);
      const [first, second] = fake.server.requests;
      expect((fast.error as APIError).requestID).toBe(first!.requestId);
      expect((sdk.error as APIError).requestID).toBe(second!.requestId);
      expect((fast.error as APIError).error).toEqual({
        type: 'error',
        error: { type: 'rate_limit_error', message: 'Slow down' },
        request_id: first!.requestId,
      });
      expect((fast.error as APIError).type).toBe((sdk.error as APIError).type);
      expect((fast.error as APIError).status).toBe((sdk.error as APIError).status);
      expect(fast.error!.constructor).toBe(sdk.error!.constructor);
    });

    it('with data that is not JSON: the same APIError', async () => {
      const body = sseFrame('message_start', textMessage('x')[0]) + 'event: error\ndata: upstream fell over\n\n';
      const fast = await fastPath(recordedReply(body, { headers: { 'request-id': 'req_2' } }));
      const sdk = await sdkPathOf(recordedReply(body, { headers: { 'request-id': 'req_2' } }));
      expectSameApiError(fast.error, sdk.error);
      expect((fast.error as APIError).error).toBe('upstream fell over');
    });
  });

  describe('data that is not JSON', () => {
    const logger = () => ({ error: jest.fn(), warn: jest.fn(), info: jest.fn(), debug: jest.fn() });
    const [start] = textMessage('x');
    const badAfterStart = `${sseFrame('message_start', start)}event: content_block_delta\ndata: {"type": oops}\n\n`;
    const badFirst = 'event: message_start\ndata: {not json\n\n';

    it('before message_start: the same SyntaxError; the client’s logger told as the SDK tells it', async () => {
      const fastLogger = logger();
      const sdkLogger = logger();
      const fast = await fastPath(recordedReply(badFirst), paths.clientWith({ logger: fastLogger }));
      fake.server.enqueue(recordedReply(badFirst));
      const sdk = await paths.sdkPath((client) => outcomeOf(claudeStream(client, PARAMS)), { logger: sdkLogger });
      expect((fast.error as Error).name).toBe('SyntaxError');
      expect(fast.error!.constructor).toBe(sdk.error!.constructor);
      expect((fast.error as Error).message).toBe((sdk.error as Error).message);
      expect(fastLogger.error.mock.calls[0]).toEqual(['Could not parse message into JSON:', '{not json']);
      expect(fastLogger.error.mock.calls).toEqual(sdkLogger.error.mock.calls);
    });

    it('after message_start: IncompleteStreamError with the same SyntaxError as its cause', async () => {
      const fastLogger = logger();
      const fast = await fastPath(recordedReply(badAfterStart), paths.clientWith({ logger: fastLogger }));
      const sdk = await sdkPathOf(recordedReply(badAfterStart));
      expect(fast.error).toBeInstanceOf(IncompleteStreamError);
      expect(sdk.error).toBeInstanceOf(IncompleteStreamError);
      const [a, b] = [fast.error as IncompleteStreamError, sdk.error as IncompleteStreamError];
      expect((a.cause as Error).name).toBe('SyntaxError');
      expect(a.cause!.constructor).toBe(b.cause!.constructor);
      expect((a.cause as Error).message).toBe((b.cause as Error).message);
      expect(a.partial).toEqual(b.partial);
      expect(fastLogger.error).toHaveBeenCalledWith('Could not parse message into JSON:', '{"type": oops}');
    });

    it('a client with logLevel off is not logged to, as on the SDK’s path', async () => {
      const fastLogger = logger();
      const sdkLogger = logger();
      await fastPath(recordedReply(badFirst), paths.clientWith({ logger: fastLogger, logLevel: 'off' }));
      fake.server.enqueue(recordedReply(badFirst));
      await paths.sdkPath((client) => outcomeOf(claudeStream(client, PARAMS)), { logger: sdkLogger, logLevel: 'off' });
      expect(sdkLogger.error).not.toHaveBeenCalled();
      expect(fastLogger.error).not.toHaveBeenCalled();
    });

    it('logs the message’s raw lines as the SDK does', async () => {
      const raw = 'event:content_block_delta\n: a comment\ndata: {bad\ndata: json}\n\n';
      const fastLogger = logger();
      const sdkLogger = logger();
      await fastPath(recordedReply(raw), paths.clientWith({ logger: fastLogger }));
      fake.server.enqueue(recordedReply(raw));
      await paths.sdkPath((client) => outcomeOf(claudeStream(client, PARAMS)), { logger: sdkLogger });
      expect(fastLogger.error.mock.calls).toEqual(sdkLogger.error.mock.calls);
    });
  });

  it('a socket dropped mid-body: IncompleteStreamError with the SDK path’s cause and partial message', async () => {
    const reply = streamReply(messageEvents([text('Hello there', { chunkSize: 3 })]), { resetAfter: 5 });
    const fast = await fastPath(reply);
    const sdk = await sdkPathOf(reply);
    expect(fast.error).toBeInstanceOf(IncompleteStreamError);
    expect(sdk.error).toBeInstanceOf(IncompleteStreamError);
    const [a, b] = [fast.error as IncompleteStreamError, sdk.error as IncompleteStreamError];
    // undici's TypeError comes from Node's realm: compared by name and message.
    expect([(a.cause as Error).name, (a.cause as Error).message]).toEqual(['TypeError', 'terminated']);
    expect([(a.cause as Error).name, (a.cause as Error).message]).toEqual([
      (b.cause as Error).name,
      (b.cause as Error).message,
    ]);
    expect(a.partial).toEqual(b.partial);
    expect(a.partial?.content).toEqual([{ type: 'text', text: 'Hello the' }]);
    expect(fast.events).toEqual(sdk.events);
  });

  it('a stream cut short (no message_stop, a clean end): IncompleteStreamError, as on the SDK path', async () => {
    const reply = streamReply(textMessage('Hello there'), { omitMessageStop: true });
    const fast = await fastPath(reply);
    const sdk = await sdkPathOf(reply);
    expect(fast.error).toBeInstanceOf(IncompleteStreamError);
    expect(sdk.error).toBeInstanceOf(IncompleteStreamError);
    expect((fast.error as IncompleteStreamError).cause).toBeUndefined();
    expect((fast.error as IncompleteStreamError).partial).toEqual((sdk.error as IncompleteStreamError).partial);
    expect(fast.events).toEqual(sdk.events);
  });

  it('unsubscribed mid-body: the server sees the request aborted; no error, no complete, nothing unhandled', async () => {
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
    expect(deeplyFrozen(seen[0])).toBe(true);
    subscription.unsubscribe();
    await request!.closed;
    expect(request!.closedByClient).toBe(true);
    await sleep(20);
    expect(outcome).toEqual([]);
  });

  it('unsubscribed inside next, more events in the same read: nothing more delivered, the request aborted', async () => {
    // The whole body but message_stop in one write, held open: the events come in one read, delivered in one loop.
    const frames = textMessage('Hello there, how are you?', { chunkSize: 2 })
      .filter((event) => event.type !== 'message_stop')
      .map((event) => sseFrame(event.type, event))
      .join('');
    const server = await startRawServer((res) => {
      res.writeHead(200, SSE_HEADERS);
      res.write(frames);
    });
    try {
      const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
      const delivered: ClaudeStreamEvent[] = [];
      const out = await outcomeOf(
        claudeStream(client, PARAMS).pipe(
          tap((event) => delivered.push(event)),
          take(2),
        ),
      );
      expect(out.events.map((event) => event.type)).toEqual(['message_start', 'content_block_start']);
      await sleep(20);
      expect(delivered).toHaveLength(2);
      expectFastPath(out);
      await server.exchanges[0]!.closed;
      expect(server.exchanges[0]!.abortedByClient).toBe(true);
    } finally {
      await server.close();
    }
  });

  describe('a caller’s signal', () => {
    /** Subscribes, waits until the subscriber has the 4 events the server sends before stalling, then aborts. */
    async function abortedMidBody(client: Anthropic): Promise<Outcome<ClaudeStreamEvent>> {
      const controller = new AbortController();
      const started = fake.server.requests.length;
      const events: ClaudeStreamEvent[] = [];
      const error = new Promise<unknown>((resolve) =>
        claudeStream(client, PARAMS, { signal: controller.signal }).subscribe({
          next: (event) => events.push(event),
          error: resolve,
          complete: () => resolve(new Error('completed')),
        }),
      );
      const [request] = (await fake.server.waitForRequests(started + 1)).slice(started);
      while (events.length < 4) await sleep(5);
      controller.abort();
      const outcome = { events, error: await error, completed: false };
      await request!.closed;
      expect(request!.closedByClient).toBe(true);
      return outcome;
    }

    it('aborted mid-body: IncompleteStreamError caused by APIUserAbortError, as on the SDK path', async () => {
      const reply = streamReply(textMessage('Hello there, how are you?', { chunkSize: 5 }), { stallAfter: 4 });
      fake.server.enqueue(reply);
      const fast = await abortedMidBody(fake.client);
      fake.server.enqueue(reply);
      const sdk = await paths.sdkPath(abortedMidBody);
      expect(fast.error).toBeInstanceOf(IncompleteStreamError);
      expect(sdk.error).toBeInstanceOf(IncompleteStreamError);
      expect((fast.error as IncompleteStreamError).cause).toBeInstanceOf(APIUserAbortError);
      expect((sdk.error as IncompleteStreamError).cause).toBeInstanceOf(APIUserAbortError);
      expect((fast.error as IncompleteStreamError).partial).toEqual((sdk.error as IncompleteStreamError).partial);
      expect(fast.events).toEqual(sdk.events);
      expectFastPath(fast);
    });

    it('aborted before the headers: APIUserAbortError on both paths', async () => {
      const run = async (client: Anthropic) => {
        fake.server.enqueue(stallBeforeHeaders());
        const controller = new AbortController();
        const started = fake.server.requests.length;
        const result = outcomeOf(claudeStream(client, PARAMS, { signal: controller.signal }));
        await fake.server.waitForRequests(started + 1);
        controller.abort();
        return result;
      };
      const fast = await run(fake.client);
      const sdk = await paths.sdkPath(run);
      expect(fast.error).toBeInstanceOf(APIUserAbortError);
      expect(sdk.error).toBeInstanceOf(APIUserAbortError);
    });
  });

  it('beta params (betas) through client.beta.messages: claude-rx’s path too, the SDK’s raw events', async () => {
    const params = { ...PARAMS, betas: ['interleaved-thinking-2025-05-14'] };
    const events = messageEvents([thinking('Let me see.', 'sig'), text('Hello ünïcode 🎉', { chunkSize: 2 })]);
    fake.server.enqueue(streamReply(events, { pingAfterStart: true, chunkBytes: 5 }));
    const raw: unknown[] = [];
    for await (const event of await fake.client.beta.messages.create({ ...params, stream: true })) raw.push(event);
    fake.server.enqueue(streamReply(events, { pingAfterStart: true, chunkBytes: 5 }));
    const fast = await outcomeOf(claudeStream(fake.client, params));
    expect(fast.completed).toBe(true);
    expectFastPath(fast as Outcome<ClaudeStreamEvent>);
    expect(fast.events).toEqual(raw);
    const request = fake.server.requests[1]!;
    expect(request.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
  });

  describe('with a tracer provider registered', () => {
    it('a client with openTelemetry { traces: false }: claude-rx’s path (frozen), and no span', async () => {
      fake.server.enqueue(streamReply(textMessage('Hello there')));
      const outcome = await paths.sdkPath((client) => outcomeOf(claudeStream(client, PARAMS)), {
        openTelemetry: { traces: false },
      });
      expect(outcome.completed).toBe(true);
      expectFastPath(outcome);
      await sleep(20);
      expect(paths.exporter.getFinishedSpans().filter((span) => span.name === CALL)).toEqual([]);
    });

    it('traces on: the SDK’s path (not frozen), and exactly one span, with the stream’s usage', async () => {
      fake.server.enqueue(streamReply(textMessage('Hello there', { usage: { input_tokens: 21, output_tokens: 13 } })));
      const outcome = await paths.sdkPath(async (client) => {
        const result = await outcomeOf(claudeStream(client, PARAMS));
        for (let i = 0; i < 200 && paths.exporter.getFinishedSpans().length === 0; i++) await sleep(5);
        return result;
      });
      expect(outcome.completed).toBe(true);
      expect(outcome.events.some((event) => Object.isFrozen(event))).toBe(false);
      const spans = paths.exporter.getFinishedSpans().filter((span) => span.name === CALL);
      expect(spans).toHaveLength(1);
      expect(spans[0]!.attributes).toMatchObject({
        'gen_ai.usage.input_tokens': 21,
        'gen_ai.usage.output_tokens': 13,
        'anthropic.message.stop_reason': 'end_turn',
      });
    });

    it('a client with its own tracerProvider (none global): one span, with the stream’s usage', async () => {
      const exporter = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      try {
        const client = paths.clientWith({ openTelemetry: { tracerProvider: provider } });
        const outcome = await fastPath(
          streamReply(textMessage('Hello there', { usage: { input_tokens: 21, output_tokens: 13 } })),
          client,
        );
        expect(outcome.completed).toBe(true);
        for (let i = 0; i < 100 && exporter.getFinishedSpans().length === 0; i++) await sleep(5);
        const spans = exporter.getFinishedSpans().filter((span) => span.name === CALL);
        expect(spans).toHaveLength(1);
        expect(spans[0]!.attributes).toMatchObject({
          'gen_ai.usage.output_tokens': 13,
          'anthropic.message.stop_reason': 'end_turn',
        });
      } finally {
        await provider.shutdown();
      }
    });
  });

  it('an empty `event:` frame, then a data-only message_stop: the SDK’s events', async () => {
    const events = textMessage('Hi');
    const body =
      events
        .slice(0, -1)
        .map((event) => sseFrame(event.type, event))
        .join('') + 'event:\n\ndata: {"type":"message_stop"}\n\n';
    const raw = await rawOf(recordedReply(body));
    const fast = await fastPath(recordedReply(body));
    expect(raw.events.at(-1)?.type).toBe('message_stop');
    expect(fast.events).toEqual(raw.events);
    expect(fast.completed).toBe(true);
  });
});
