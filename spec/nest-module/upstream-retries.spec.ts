import 'reflect-metadata';
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { Test, type TestingModule } from '@nestjs/testing';
import { performance } from 'node:perf_hooks';
import { lastValueFrom, toArray } from 'rxjs';
import { defineTool, type RetryInfo } from 'claude-rx';
import { ClaudeStreamModule, ClaudeStreamService, type ClaudeStreamModuleOptions } from 'claude-rx/nest';
import {
  FakeClaudeServer,
  errorReply,
  resetBeforeHeaders,
  streamReply,
  textMessage,
  toolUseMessage,
} from 'claude-rx/testing';
import { API_KEY, MODEL } from './support/fixtures.js';

// One call makes at most 1 + retry.maxRetries upstream requests in all, the SDK's own retries included, and is never
// less robust than the SDK's policy. Counted at the fake server.

let server: FakeClaudeServer;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
});
afterEach(() => server.reset());
afterAll(() => server.close());

let moduleRef: TestingModule | undefined;
afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

const MESSAGES = [{ role: 'user' as const, content: 'Hello' }];
const FAST = { baseDelayMs: 5, jitter: 'none' as const };

/** The module with a client as users build it: the SDK's default retries (2) left on. */
async function serviceWith(options: ClaudeStreamModuleOptions): Promise<ClaudeStreamService> {
  moduleRef = await Test.createTestingModule({
    imports: [
      ClaudeStreamModule.forRoot({
        apiKey: API_KEY,
        baseURL: server.url,
        defaults: { model: MODEL, max_tokens: 64 },
        timeout: false,
        ...options,
      }),
    ],
  }).compile();
  moduleRef.useLogger(false);
  return moduleRef.get(ClaudeStreamService);
}

function outcome(service: ClaudeStreamService): Promise<unknown> {
  return lastValueFrom(service.stream({ messages: MESSAGES }).pipe(toArray())).then(
    (events) => ({ events }),
    (error: unknown) => ({ error }),
  );
}

describe('the retries of one ClaudeStreamService call', () => {
  it('a persistent 529 makes 1 + retry.maxRetries requests in all, not (SDK + 1) × (maxRetries + 1)', async () => {
    server.respondWith(() => errorReply(529));
    const service = await serviceWith({ retry: { maxRetries: 2, ...FAST } });
    const result = await outcome(service);
    expect(result).toEqual({ error: expect.any(Anthropic.APIError) });
    expect(((result as { error: APIError }).error as { status?: number }).status).toBe(529);
    expect(server.requests).toHaveLength(3);
  });

  it("holds for a client of the user's own with more SDK retries", async () => {
    server.respondWith(() => errorReply(503));
    const client = new Anthropic({ apiKey: API_KEY, baseURL: server.url, maxRetries: 6 });
    const service = await serviceWith({
      apiKey: undefined,
      baseURL: undefined,
      client,
      retry: { maxRetries: 1, ...FAST },
    });
    await outcome(service);
    expect(server.requests).toHaveLength(2);
  });

  it("keeps the SDK's policy before the first byte: a reset connection and a 500 are retried, then it streams", async () => {
    server.enqueue(resetBeforeHeaders(), errorReply(500), streamReply(textMessage('Hi')));
    const service = await serviceWith({ retry: { maxRetries: 2, ...FAST } });
    const result = await outcome(service);
    expect(result).toEqual({ events: expect.arrayContaining([expect.objectContaining({ type: 'message_stop' })]) });
    expect(server.requests).toHaveLength(3);
  });

  it('gives up at once when the server asks for a wait beyond maxDelayMs, as retryOnRateLimit does', async () => {
    server.respondWith(() => errorReply(429, { retryAfterSeconds: 30 }));
    const service = await serviceWith({ retry: { maxRetries: 2, maxDelayMs: 1000, ...FAST } });
    const started = performance.now();
    const result = await outcome(service);
    expect(performance.now() - started).toBeLessThan(10_000);
    const error = (result as { error: APIError }).error;
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(error.headers?.get('retry-after')).toBe('30');
    expect(server.requests).toHaveLength(1);
  });

  it("honours a server's wait within maxDelayMs", async () => {
    server.enqueue(errorReply(429, { retryAfterMs: 150 }), streamReply(textMessage('Hi')));
    const service = await serviceWith({ retry: { maxRetries: 2, maxDelayMs: 1000, ...FAST } });
    await outcome(service);
    const [first, second] = server.requests;
    expect(server.requests).toHaveLength(2);
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(140);
  });

  it('bounds the wait without retry-after by maxDelayMs (the SDK alone would wait up to 8 s)', async () => {
    server.enqueue(errorReply(529), errorReply(529), streamReply(textMessage('Hi')));
    const service = await serviceWith({ retry: { maxRetries: 2, baseDelayMs: 5000, maxDelayMs: 50, jitter: 'none' } });
    const started = performance.now();
    await outcome(service);
    expect(server.requests).toHaveLength(3);
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('retries a mid-stream overload with what is left, and counts it against the same budget', async () => {
    const events = textMessage('Hello there');
    const overloadedEarly = streamReply(events, {
      errorAfter: { events: 2, error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    server.enqueue(errorReply(529), overloadedEarly, overloadedEarly, streamReply(textMessage('never sent')));
    const retries: RetryInfo[] = [];
    const service = await serviceWith({ retry: { maxRetries: 2, ...FAST, onRetry: (info) => retries.push(info) } });
    const result = await outcome(service);
    expect((result as { error: APIError }).error).toBeInstanceOf(Anthropic.APIError);
    expect(((result as { error: APIError }).error as { type?: string }).type).toBe('overloaded_error');
    // 529 (the SDK retries), a mid-stream overload (the operator retries), a mid-stream overload: budget spent.
    expect(server.requests).toHaveLength(3);
    expect(retries.map((info) => info.attempt)).toEqual([1]);
  });

  it("with retry: false, claude-rx adds no retry and leaves the client's own policy as it is", async () => {
    server.respondWith(() => errorReply(529));
    const client = new Anthropic({ apiKey: API_KEY, baseURL: server.url, maxRetries: 1 });
    const service = await serviceWith({ apiKey: undefined, baseURL: undefined, client, retry: false });
    await outcome(service);
    expect(server.requests).toHaveLength(2);
  });

  it('gives each turn of runTools a budget of its own', async () => {
    server.enqueue(
      errorReply(529),
      streamReply(toolUseMessage('get_time', {})),
      errorReply(529),
      errorReply(529),
      streamReply(textMessage('It is noon.')),
    );
    const getTime = defineTool({
      name: 'get_time',
      description: 'The time.',
      inputSchema: { type: 'object', properties: {} },
      run: () => 'noon',
    });
    const service = await serviceWith({ retry: { maxRetries: 2, ...FAST } });
    const events = await lastValueFrom(service.runTools({ messages: MESSAGES }, { tools: [getTime] }).pipe(toArray()));
    expect(events.at(-1)).toEqual(expect.objectContaining({ type: 'turn_end', turn: 2 }));
    expect(server.requests).toHaveLength(5);
  });

  it("numbers the SDK's retries as the SDK does (x-stainless-retry-count)", async () => {
    server.enqueue(errorReply(529), streamReply(textMessage('Hi')));
    const service = await serviceWith({ retry: { maxRetries: 1, ...FAST } });
    await outcome(service);
    const [first, second] = server.requests;
    expect(first!.headers['x-stainless-retry-count']).toBe('0');
    expect(second!.headers['x-stainless-retry-count']).toBe('1');
  });
});
