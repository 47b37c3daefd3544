import Anthropic from '@anthropic-ai/sdk';
import { HttpException } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { ChunkTimeoutError, IncompleteStreamError, claudeStream } from 'claude-rx';
import { ClaudeStreamShutdownError, ClaudeUpstreamException, httpExceptionFor } from 'claude-rx/nest';
import {
  FakeClaudeServer,
  errorReply,
  resetBeforeHeaders,
  streamReply,
  textMessage,
  type FakeReply,
} from 'claude-rx/testing';
import { API_KEY, MODEL } from './support/fixtures.js';

let server: FakeClaudeServer;
let client: Anthropic;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
  client = new Anthropic({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0 });
});
afterEach(() => server.reset());
afterAll(() => server.close());

/** The real error the SDK (through claudeStream) fails with for a scripted reply. */
async function upstreamError(reply: FakeReply): Promise<unknown> {
  server.enqueue(reply);
  const params = { model: MODEL, max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
  return lastValueFrom(claudeStream(client, params)).then(
    () => {
      throw new Error('expected the stream to fail');
    },
    (error: unknown) => error,
  );
}

const SECRET_MESSAGE = `upstream says ${API_KEY}`;

describe('httpExceptionFor', () => {
  it.each<[string, () => FakeReply, number, Record<string, unknown>, Record<string, string>]>([
    [
      '429 with retry-after',
      () => errorReply(429, { retryAfterSeconds: 7, message: SECRET_MESSAGE }),
      429,
      { type: 'rate_limit_error', retryable: true },
      { 'Retry-After': '7' },
    ],
    [
      '429 with retry-after-ms (rounded up)',
      () => errorReply(429, { retryAfterMs: 1200 }),
      429,
      { type: 'rate_limit_error' },
      { 'Retry-After': '2' },
    ],
    ['429 without a hint', () => errorReply(429), 429, { type: 'rate_limit_error' }, {}],
    ['529', () => errorReply(529, { message: SECRET_MESSAGE }), 503, { type: 'overloaded_error', retryable: true }, {}],
    ['401', () => errorReply(401, { message: SECRET_MESSAGE }), 502, { type: 'upstream_error', retryable: false }, {}],
    ['403', () => errorReply(403), 502, { type: 'upstream_error', retryable: false }, {}],
    ['400', () => errorReply(400), 502, { type: 'upstream_error', retryable: false }, {}],
    ['500', () => errorReply(500), 502, { type: 'upstream_error', retryable: true }, {}],
    ['a connection reset', () => resetBeforeHeaders(), 502, { type: 'upstream_error', retryable: true }, {}],
    [
      'an overload frame before message_start',
      () =>
        streamReply(textMessage('x'), {
          errorAfter: { events: 0, error: { type: 'overloaded_error', message: SECRET_MESSAGE } },
        }),
      503,
      { type: 'overloaded_error', retryable: true },
      {},
    ],
  ])('upstream %s: status %s', async (_, reply, status, facts, headers) => {
    const error = await upstreamError(reply());

    const exception = httpExceptionFor(error);

    expect(exception).toBeInstanceOf(ClaudeUpstreamException);
    expect(exception).toBeInstanceOf(HttpException);
    expect(exception.getStatus()).toBe(status);
    expect(exception).toMatchObject(facts);
    expect(exception.getHeaders()).toEqual(headers);
    expect(exception.cause).toBe(error);
    expect(exception.getResponse()).toEqual({
      statusCode: status,
      error: expect.any(String),
      message: expect.any(String),
      type: exception.type,
      retryable: exception.retryable,
    });
    expect(JSON.stringify(exception.getResponse())).not.toMatch(/upstream says|sk-ant|401|403|key/);
  });

  it.each<[string, unknown, number, string]>([
    ['a chunk timeout', new ChunkTimeoutError({ bound: 'first', limitMs: 10, eventsSeen: 0 }), 504, 'timeout_error'],
    ['a cut stream', new IncompleteStreamError(undefined), 502, 'incomplete_stream_error'],
    ['a shutdown', new ClaudeStreamShutdownError(), 503, 'server_shutdown'],
    ['anything else', new Error('boom'), 502, 'upstream_error'],
  ])('%s: status %s', (_, error, status, type) => {
    const exception = httpExceptionFor(error);

    expect(exception.getStatus()).toBe(status);
    expect(exception.type).toBe(type);
  });
});
