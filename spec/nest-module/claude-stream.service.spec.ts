import 'reflect-metadata';
import { jest } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import type { TestingModule } from '@nestjs/testing';
import { Test } from '@nestjs/testing';
import { performance } from 'node:perf_hooks';
import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs';
import {
  ChunkTimeoutError,
  MaxTurnsExceededError,
  isRunToolsMarker,
  type ClaudeStreamEvent,
  type RunnableTool,
  type RunToolsEvent,
} from 'claude-rx';
import {
  ClaudeStreamModule,
  ClaudeStreamService,
  ClaudeStreamNotResumableException,
  ClaudeStreamShutdownError,
  ClaudeUpstreamException,
  toSse,
  type ClaudeStreamModuleOptions,
} from 'claude-rx/nest';
import {
  FakeClaudeServer,
  errorReply,
  stallBeforeHeaders,
  streamReply,
  textMessage,
  toolUseMessage,
  type RecordedRequest,
} from 'claude-rx/testing';
import { API_KEY, MODEL, SCRIPT, eventsOfClaudeStream } from './support/fixtures.js';

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

const MESSAGES = [{ role: 'user' as const, content: 'Hello' }];

let moduleRef: TestingModule | undefined;
afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

async function serviceWith(options: ClaudeStreamModuleOptions = {}): Promise<ClaudeStreamService> {
  const client = new Anthropic({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0 });
  moduleRef = await Test.createTestingModule({
    imports: [ClaudeStreamModule.forRoot({ client, defaults: { model: MODEL, max_tokens: 64 }, ...options })],
  }).compile();
  moduleRef.useLogger(false);
  return moduleRef.get(ClaudeStreamService);
}

function collect<T>(source: Observable<T>): Promise<T[]> {
  return lastValueFrom(source.pipe(toArray()));
}

function errorOf(source: Observable<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    source.subscribe({ error: resolve, complete: () => reject(new Error('expected an error, but it completed')) });
  });
}

/** Resolves once the upstream request has ended (2 s at most); fails unless the client (this process) closed it. */
async function abortedByUs(request: RecordedRequest): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the upstream request is still open after 2 s')), 2_000);
  });
  await Promise.race([request.closed, giveUp]).finally(() => clearTimeout(timer));
  expect(request.closedByClient).toBe(true);
}

describe('stream(), text(), finalMessage()', () => {
  it('stream() yields what claudeStream yields, with the defaults under the call params', async () => {
    const service = await serviceWith();
    server.respondWith(() => streamReply(SCRIPT));
    const expected = await eventsOfClaudeStream(server);

    const events = await collect(service.stream({ messages: MESSAGES, max_tokens: 7, stop_sequences: ['END'] }));

    expect(events).toEqual(expected);
    expect(server.lastRequest?.body).toEqual({
      model: MODEL,
      max_tokens: 7,
      stop_sequences: ['END'],
      messages: MESSAGES,
      stream: true,
    });
  });

  it('a call param left undefined does not erase the default', async () => {
    const service = await serviceWith();
    server.enqueue(streamReply(textMessage('ok')));

    await collect(service.stream({ messages: MESSAGES, model: undefined }));

    expect(server.lastRequest?.body).toMatchObject({ model: MODEL });
  });

  it('throws a TypeError at once when no model is configured', async () => {
    const service = await serviceWith({ defaults: { max_tokens: 10 } });

    expect(() => service.stream({ messages: MESSAGES })).toThrow(/no model/);
    expect(server.requests).toHaveLength(0);
  });

  it('text() streams the text; finalMessage() emits the whole message once', async () => {
    const service = await serviceWith();
    server.respondWith(() => streamReply(textMessage('Hello, world', { chunkSize: 3 })));

    expect((await collect(service.text({ messages: MESSAGES }))).join('')).toBe('Hello, world');
    const messages = await collect(service.finalMessage({ messages: MESSAGES }));
    expect(messages).toHaveLength(1);
    expect(messages[0]?.content).toEqual([{ type: 'text', text: 'Hello, world' }]);
  });

  it('unsubscribing aborts the request', async () => {
    const service = await serviceWith();
    server.enqueue(streamReply(SCRIPT, { stallAfter: 3 }));

    await firstValueFrom(service.stream({ messages: MESSAGES }));

    await abortedByUs(server.lastRequest!);
  });

  it('retries a rate limit by default, and not with retry: false', async () => {
    const service = await serviceWith();
    server.enqueue(errorReply(429, { retryAfterMs: 5 }), streamReply(textMessage('second try')));

    expect((await collect(service.text({ messages: MESSAGES }))).join('')).toBe('second try');
    expect(server.requests).toHaveLength(2);

    server.reset();
    server.enqueue(errorReply(429, { retryAfterMs: 5 }), streamReply(textMessage('never')));
    expect(await errorOf(service.text({ messages: MESSAGES }, { retry: false }))).toBeInstanceOf(
      Anthropic.RateLimitError,
    );
    expect(server.requests).toHaveLength(1);
  });

  it('applies the timeout, aborting a stalled request', async () => {
    const service = await serviceWith({ timeout: { each: 50 } });
    server.enqueue(streamReply(SCRIPT, { stallAfter: 2 }));

    const error = await errorOf(service.stream({ messages: MESSAGES }));

    expect(error).toBeInstanceOf(ChunkTimeoutError);
    expect((error as ChunkTimeoutError).info).toMatchObject({ bound: 'each', limitMs: 50, eventsSeen: 2 });
    await abortedByUs(server.lastRequest!);
  });

  it('links the caller signal', async () => {
    const service = await serviceWith();
    server.enqueue(stallBeforeHeaders());
    const caller = new AbortController();
    const error = errorOf(service.stream({ messages: MESSAGES }, { signal: caller.signal }));
    await server.waitForRequests(1);

    caller.abort();

    expect(await error).toBeInstanceOf(Anthropic.APIUserAbortError);
    await abortedByUs(server.lastRequest!);
  });
});

describe('sse()', () => {
  function dataOf(events: readonly { type?: string; data?: unknown }[]): unknown[] {
    return events.filter((event) => event.type !== 'done').map((event): unknown => JSON.parse(event.data as string));
  }

  it('loses none of the events that arrived before it was subscribed', async () => {
    const service = await serviceWith({ sse: { heartbeatMs: false } });
    server.respondWith(() => streamReply(SCRIPT));
    const expected = await eventsOfClaudeStream(server);

    const events$ = await service.sse({ messages: MESSAGES });
    // The whole upstream response is in before anyone subscribes.
    await server.lastRequest!.closed;
    expect(server.lastRequest!.completed).toBe(true);
    const events = await collect(events$);

    expect(dataOf(events)).toEqual(expected);
    expect(events.at(-1)).toMatchObject({ type: 'done' });
  });

  it('aborts the upstream request when the result is not subscribed within subscribeTimeoutMs', async () => {
    const service = await serviceWith();
    server.enqueue(streamReply(SCRIPT, { stallAfter: 3 }));

    const events$ = await service.sse({ messages: MESSAGES }, { subscribeTimeoutMs: 30 });

    await abortedByUs(server.lastRequest!);
    await expect(firstValueFrom(events$)).rejects.toThrow(/not subscribed to within 30 ms/);
  });

  it('can be subscribed once', async () => {
    const service = await serviceWith();
    server.enqueue(streamReply(textMessage('once')));
    const events$ = await service.sse({ messages: MESSAGES });

    await collect(events$);

    await expect(collect(events$)).rejects.toThrow(/only once/);
  });

  it('a signal aborted during set-up aborts the upstream request and rejects with its reason', async () => {
    const service = await serviceWith();
    server.enqueue(stallBeforeHeaders());
    const client = new AbortController();
    const pending = service.sse({ messages: MESSAGES }, { signal: client.signal });
    const [request] = await server.waitForRequests(1);

    const abortedAt = performance.now();
    client.abort(new Error('client went away'));

    await expect(pending).rejects.toThrow('client went away');
    await abortedByUs(request!);
    expect(request!.closedAt! - abortedAt).toBeLessThan(200);
  });

  it('a signal aborted after resolution but before subscription aborts the upstream request', async () => {
    const service = await serviceWith();
    server.enqueue(streamReply(SCRIPT, { stallAfter: 3 }));
    const client = new AbortController();
    await service.sse({ messages: MESSAGES }, { signal: client.signal, subscribeTimeoutMs: 60_000 });

    client.abort();

    await abortedByUs(server.lastRequest!);
  });

  it('a signal already aborted sends nothing', async () => {
    const service = await serviceWith();

    await expect(service.sse({ messages: MESSAGES }, { signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow(
      'gone',
    );
    expect(server.requests).toHaveLength(0);
  });

  it.each<[string, () => ReturnType<typeof errorReply>, number, Record<string, unknown>]>([
    ['429', () => errorReply(429, { retryAfterSeconds: 3 }), 429, { type: 'rate_limit_error', retryAfterSeconds: 3 }],
    ['529', () => errorReply(529), 503, { type: 'overloaded_error', retryable: true }],
    ['401', () => errorReply(401), 502, { type: 'upstream_error', retryable: false }],
    ['500', () => errorReply(500), 502, { type: 'upstream_error', retryable: true }],
  ])(
    'an upstream %s before the first event rejects with an HttpException of status %s',
    async (_, reply, status, facts) => {
      const service = await serviceWith({ retry: false });
      server.enqueue(reply());

      const error = await service.sse({ messages: MESSAGES }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ClaudeUpstreamException);
      expect((error as ClaudeUpstreamException).getStatus()).toBe(status);
      expect(error).toMatchObject(facts);
    },
  );

  it('a timeout before the first event is a 504', async () => {
    const service = await serviceWith({ timeout: { first: 30 } });
    server.enqueue(stallBeforeHeaders());

    const error = await service.sse({ messages: MESSAGES }).catch((e: unknown) => e);

    expect((error as ClaudeUpstreamException).getStatus()).toBe(504);
    await abortedByUs(server.lastRequest!);
  });

  it('uses the module sse options, replaced per call', async () => {
    const service = await serviceWith({ sse: { events: ['text_delta'], heartbeatMs: false } });
    server.respondWith(() => streamReply(SCRIPT));

    const moduleWide = await collect(await service.sse({ messages: MESSAGES }));
    const perCall = await collect(await service.sse({ messages: MESSAGES }, { events: ['message_start'] }));

    expect(new Set(moduleWide.map((event) => event.type))).toEqual(new Set(['content_block_delta', 'done']));
    expect(new Set(dataOf(moduleWide).map((event) => (event as { delta: { type: string } }).delta.type))).toEqual(
      new Set(['text_delta']),
    );
    expect(perCall.map((event) => event.type)).toEqual(['message_start', 'done']);
  });
});

describe('application shutdown', () => {
  it('ends the open calls with ClaudeStreamShutdownError, aborting their requests, and refuses new ones', async () => {
    const service = await serviceWith();
    server.enqueue(streamReply(SCRIPT, { stallAfter: 3 }), stallBeforeHeaders());
    const events: ClaudeStreamEvent[] = [];
    const streaming = new Promise<unknown>((resolve) =>
      service
        .stream({ messages: MESSAGES })
        .subscribe({ next: (event) => events.push(event as ClaudeStreamEvent), error: resolve }),
    );
    const settingUp = service.sse({ messages: MESSAGES }).catch((e: unknown) => e);
    const [first, second] = await server.waitForRequests(2);
    while (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    const closedAt = performance.now();
    await moduleRef!.close();
    moduleRef = undefined;

    expect(await streaming).toBeInstanceOf(ClaudeStreamShutdownError);
    expect(await settingUp).toMatchObject({ type: 'server_shutdown' });
    expect(((await settingUp) as ClaudeUpstreamException).getStatus()).toBe(503);
    await abortedByUs(first!);
    await abortedByUs(second!);
    expect(Math.max(first!.closedAt!, second!.closedAt!) - closedAt).toBeLessThan(200);
    expect(await errorOf(service.text({ messages: MESSAGES }))).toBeInstanceOf(ClaudeStreamShutdownError);
  });
});

describe('runTools()', () => {
  const calls: unknown[] = [];
  const echo: RunnableTool = {
    name: 'echo',
    description: 'Echoes its input.',
    inputSchema: { type: 'object', properties: { word: { type: 'string' } }, required: ['word'] },
    run: (input) => {
      calls.push(input);
      return (input as { word: string }).word;
    },
  };
  beforeEach(() => (calls.length = 0));

  const toolTurn = () => streamReply(toolUseMessage('echo', { word: 'hi' }, { toolUseId: 'toolu_echo' }));
  const messagesOf = (request: RecordedRequest) => request.body!['messages'] as unknown[];

  it('runs the conversation with the module defaults under every request', async () => {
    const service = await serviceWith();
    server.enqueue(toolTurn(), streamReply(textMessage('Done: hi')));

    const events = await collect(service.runTools({ messages: MESSAGES, max_tokens: 9 }, { tools: [echo] }));

    expect(events.filter(isRunToolsMarker).map((event) => `${event.turn}:${event.type}`)).toEqual([
      '1:turn_start',
      '1:turn_end',
      '1:tool_result',
      '2:turn_start',
      '2:turn_end',
    ]);
    expect(calls).toEqual([{ word: 'hi' }]);
    for (const request of server.requests) {
      expect(request.body).toMatchObject({ model: MODEL, max_tokens: 9, stream: true });
      expect(request.body!['tools']).toEqual([expect.objectContaining({ name: 'echo' })]);
    }
    expect(messagesOf(server.requests[1]!)).toEqual([
      ...MESSAGES,
      { role: 'assistant', content: [expect.objectContaining({ type: 'tool_use', id: 'toolu_echo' })] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_echo', content: 'hi' }] },
    ]);
  });

  it('retries a rate-limited turn on its own, and not with retry: false', async () => {
    const service = await serviceWith();
    server.enqueue(toolTurn(), errorReply(429, { retryAfterMs: 5 }), streamReply(textMessage('Done')));

    await collect(service.runTools({ messages: MESSAGES }, { tools: [echo] }));

    expect(server.requests.map((request) => messagesOf(request).length)).toEqual([1, 3, 3]);
    expect(calls).toHaveLength(1);

    server.reset();
    server.enqueue(toolTurn(), errorReply(429, { retryAfterMs: 5 }), streamReply(textMessage('never')));
    expect(await errorOf(service.runTools({ messages: MESSAGES }, { tools: [echo], retry: false }))).toBeInstanceOf(
      Anthropic.RateLimitError,
    );
    expect(server.requests).toHaveLength(2);
  });

  it('applies the timeout to each request: a stalled second turn is aborted', async () => {
    const service = await serviceWith({ timeout: { each: 50 } });
    server.enqueue(toolTurn(), streamReply(SCRIPT, { stallAfter: 2 }));

    const error = await errorOf(service.runTools({ messages: MESSAGES }, { tools: [echo] }));

    expect(error).toBeInstanceOf(ChunkTimeoutError);
    expect(server.requests).toHaveLength(2);
    await abortedByUs(server.requests[1]!);
  });

  it('passes maxTurns through', async () => {
    const service = await serviceWith();
    server.respondWith(() => toolTurn());

    const error = await errorOf(service.runTools({ messages: MESSAGES }, { tools: [echo], maxTurns: 2 }));

    expect(error).toBeInstanceOf(MaxTurnsExceededError);
    expect(server.requests).toHaveLength(2);
  });

  it('throws a TypeError at once for bad options', async () => {
    const service = await serviceWith();

    expect(() => service.runTools({ messages: MESSAGES }, { tools: [echo], maxTurns: -1 })).toThrow(TypeError);
    expect(() => service.runTools({ messages: MESSAGES }, { tools: [echo], timeout: { each: -5 } })).toThrow(TypeError);
    expect(server.requests).toHaveLength(0);
  });

  it('goes through toSse(): the markers become SSE events named after their type', async () => {
    const service = await serviceWith();
    server.enqueue(toolTurn(), streamReply(textMessage('Done')));
    const run$: Observable<RunToolsEvent> = service.runTools({ messages: MESSAGES }, { tools: [echo] });

    const sse = await collect(run$.pipe(toSse({ heartbeatMs: false })));

    const names = sse.map((event) => event.type);
    expect(names.filter((name) => ['turn_start', 'turn_end', 'tool_result', 'done'].includes(name!))).toEqual([
      'turn_start',
      'turn_end',
      'tool_result',
      'turn_start',
      'turn_end',
      'done',
    ]);
    const toolResult = sse.find((event) => event.type === 'tool_result')!;
    // What the model saw of the tool call, and nothing of the conversation or of a thrown error.
    expect(JSON.parse(toolResult.data as string)).toEqual({
      type: 'tool_result',
      turn: 1,
      tool_use_id: 'toolu_echo',
      name: 'echo',
      input: expect.anything(),
      content: 'hi',
      is_error: false,
    });
    const turnEnd = sse.find((event) => event.type === 'turn_end')!;
    expect(JSON.parse(turnEnd.data as string)).toEqual({ type: 'turn_end', turn: 1, stop_reason: 'tool_use' });
    expect(sse.map((event) => Number(event.id))).toEqual(sse.map((_, index) => index + 1));
  });

  describe('sseRunTools()', () => {
    it('streams a two-turn tool conversation as SSE events: ids across turns, one done at the end', async () => {
      const service = await serviceWith({ sse: { heartbeatMs: false } });
      server.enqueue(toolTurn(), streamReply(textMessage('Done: hi')));

      const events$ = await service.sseRunTools({ messages: MESSAGES }, { tools: [echo] });
      const sse = await collect(events$);

      const names = sse.map((event) => event.type);
      expect(names.filter((name) => name !== 'content_block_delta' && name !== 'content_block_start')).toEqual([
        'turn_start',
        'message_start',
        'content_block_stop',
        'message_delta',
        'message_stop',
        'turn_end',
        'tool_result',
        'turn_start',
        'message_start',
        'content_block_stop',
        'message_delta',
        'message_stop',
        'turn_end',
        'done',
      ]);
      expect(sse.map((event) => Number(event.id))).toEqual(sse.map((_, index) => index + 1));
      expect(JSON.parse(sse.find((event) => event.type === 'tool_result')!.data as string)).toEqual({
        type: 'tool_result',
        turn: 1,
        tool_use_id: 'toolu_echo',
        name: 'echo',
        input: { word: 'hi' },
        content: 'hi',
        is_error: false,
      });
      expect(calls).toEqual([{ word: 'hi' }]);
      expect(server.requests).toHaveLength(2);
      expect(messagesOf(server.requests[1]!)).toHaveLength(3);
    });

    it('answers a request that carries Last-Event-ID with 204, without a request upstream or a tool run', async () => {
      const service = await serviceWith();
      const pending = service.sseRunTools({ messages: MESSAGES }, { tools: [echo], lastEventId: '12' });
      await expect(pending).rejects.toBeInstanceOf(ClaudeStreamNotResumableException);
      await expect(pending).rejects.toMatchObject({ status: 204, lastEventId: '12' });
      expect(server.requests).toHaveLength(0);
      expect(calls).toEqual([]);
    });

    it("sends a failed tool's result as is_error with a fixed message, never what the tool threw", async () => {
      const secret = 'postgres://app:hunter2-secret@db.internal:5432/prod';
      const failing: RunnableTool = {
        name: 'echo',
        description: 'Fails with internals in its message.',
        inputSchema: { type: 'object', properties: { word: { type: 'string' } } },
        run: () => {
          throw new Error(`cannot connect to ${secret}`);
        },
      };
      const service = await serviceWith({ sse: { heartbeatMs: false } });
      server.enqueue(toolTurn(), streamReply(textMessage('Sorry.')));

      const sse = await collect(await service.sseRunTools({ messages: MESSAGES }, { tools: [failing] }));

      expect(JSON.parse(sse.find((event) => event.type === 'tool_result')!.data as string)).toEqual({
        type: 'tool_result',
        turn: 1,
        tool_use_id: 'toolu_echo',
        name: 'echo',
        input: { word: 'hi' },
        content: 'The tool call failed.',
        is_error: true,
      });
      expect(JSON.stringify(sse)).not.toContain('hunter2');
      // The model still reads why (the API's contract): the thrown text went upstream, in the next request.
      expect(server.requests[1]!.rawBody).toContain('hunter2-secret');
    });

    it('an upstream 429 before the first event rejects with the 429 HttpException, and runs no tool', async () => {
      const service = await serviceWith({ retry: false });
      server.enqueue(errorReply(429, { retryAfterSeconds: 3 }));

      const error = await service.sseRunTools({ messages: MESSAGES }, { tools: [echo] }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ClaudeUpstreamException);
      expect((error as ClaudeUpstreamException).getStatus()).toBe(429);
      expect(error).toMatchObject({ type: 'rate_limit_error', retryAfterSeconds: 3 });
      expect(calls).toHaveLength(0);
      expect(server.requests).toHaveLength(1);
    });

    it('a signal aborted during set-up aborts the upstream request and rejects with its reason', async () => {
      const service = await serviceWith();
      server.enqueue(stallBeforeHeaders());
      const client = new AbortController();
      const pending = service.sseRunTools({ messages: MESSAGES }, { tools: [echo], signal: client.signal });
      const [request] = await server.waitForRequests(1);

      client.abort(new Error('client went away'));

      await expect(pending).rejects.toThrow('client went away');
      await abortedByUs(request!);
      expect(server.requests).toHaveLength(1);
    });

    it('logs an upstream failure, but not a client that left mid-stream', async () => {
      const service = await serviceWith();
      const warnings: string[] = [];
      moduleRef!.useLogger({ log() {}, error() {}, warn: (message: unknown) => warnings.push(String(message)) });
      server.enqueue(streamReply(textMessage('A long answer, slowly'), { stallAfter: 3 }));
      const client = new AbortController();
      const events$ = await service.sseRunTools({ messages: MESSAGES }, { tools: [echo], signal: client.signal });
      const subscription = events$.subscribe({ error: () => undefined });
      const [request] = await server.waitForRequests(1);
      client.abort();
      subscription.unsubscribe();
      await abortedByUs(request!);
      expect(warnings).toEqual([]);

      server.enqueue(errorReply(401));
      await service.sse({ messages: MESSAGES }).catch(() => undefined);
      expect(warnings).toEqual([expect.stringContaining('authentication_error')]);
    });

    it('throws a TypeError for bad options and sends nothing', async () => {
      const service = await serviceWith();

      await expect(service.sseRunTools({ messages: MESSAGES }, { tools: [echo], maxTurns: 0 })).rejects.toThrow(
        TypeError,
      );
      await expect(
        service.sseRunTools({ messages: MESSAGES }, { tools: [echo], subscribeTimeoutMs: -1 }),
      ).rejects.toThrow(/sseRunTools: subscribeTimeoutMs/);
      expect(server.requests).toHaveLength(0);
    });
  });

  it('is ended by an application shutdown, aborting the running tool', async () => {
    const service = await serviceWith();
    server.enqueue(toolTurn());
    let toolSignal: AbortSignal | undefined;
    const waiting: RunnableTool = {
      ...echo,
      run: (_input, { signal }) => {
        toolSignal = signal;
        return new Promise(() => {});
      },
    };
    const ended = errorOf(service.runTools({ messages: MESSAGES }, { tools: [waiting] }));
    while (!toolSignal) await new Promise((resolve) => setTimeout(resolve, 5));

    await moduleRef!.close();
    moduleRef = undefined;

    expect(await ended).toBeInstanceOf(ClaudeStreamShutdownError);
    expect(toolSignal.aborted).toBe(true);
    expect(server.requests).toHaveLength(1);
  });
});
