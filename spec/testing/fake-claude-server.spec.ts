import Anthropic from '@anthropic-ai/sdk';
import { FakeClaudeServer, errorReply, stallBeforeHeaders, streamReply, textMessage } from 'claude-rx/testing';

import { clientFor, collect, params, rawPost } from './helpers.js';

describe('FakeClaudeServer', () => {
  let server: FakeClaudeServer;
  let client: Anthropic;

  beforeAll(async () => {
    server = await FakeClaudeServer.start();
    client = clientFor(server);
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  it('listens on 127.0.0.1 and exposes a baseURL', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('records method, path, headers and the parsed body of each request', async () => {
    await client.messages.create({ ...params, stream: true }, { headers: { 'x-trace': 'abc' } });
    await client.messages.create({ ...params, stream: true, stop_sequences: ['END'] });

    const [first, second] = server.requests;
    expect(server.requests).toHaveLength(2);
    expect(first).toMatchObject({
      index: 0,
      method: 'POST',
      path: '/v1/messages',
      platform: 'anthropic',
      model: 'claude-sonnet-5-5',
    });
    // SDK 1.x sends the API key as a bearer token, not as `x-api-key`.
    expect(first!.headers).toMatchObject({
      authorization: 'Bearer k',
      'content-type': 'application/json',
      'x-trace': 'abc',
    });
    expect(first!.headers['anthropic-version']).toEqual(expect.any(String));
    expect(first!.body).toEqual({ ...params, stream: true });
    expect(JSON.parse(first!.rawBody)).toEqual(first!.body);
    expect(first!.receivedAt).toBeLessThanOrEqual(second!.receivedAt);
    expect(second).toMatchObject({ index: 1, body: { stop_sequences: ['END'] } });
    expect(server.lastRequest).toBe(second);
  });

  it('streams the default text message when nothing is scripted', async () => {
    const message = await client.messages.stream(params).finalMessage();

    expect(message.content).toEqual([{ type: 'text', text: 'Hello from the fake Claude server' }]);
    expect(message.stop_reason).toBe('end_turn');
  });

  it('takes queued replies first, then the respondWith handler, then the default', async () => {
    const defaultServer = await FakeClaudeServer.start({ defaultReply: streamReply(textMessage('default')) });
    try {
      const own = clientFor(defaultServer);
      const seen: number[] = [];
      defaultServer.enqueue(streamReply(textMessage('first')), streamReply(textMessage('second')));
      defaultServer.respondWith((request) => {
        seen.push(request.index);
        return streamReply(textMessage(`handled ${request.index}`));
      });
      const texts: string[] = [];
      for (let i = 0; i < 4; i++) texts.push(await textOf(own));
      defaultServer.respondWith(undefined);
      texts.push(await textOf(own));

      expect(texts).toEqual(['first', 'second', 'handled 2', 'handled 3', 'default']);
      expect(seen).toEqual([2, 3]);
    } finally {
      await defaultServer.close();
    }
  });

  it('answers 500 api_error when the respondWith handler fails', async () => {
    server.respondWith(() => Promise.reject(new Error('boom')));

    const error: unknown = await client.messages.create({ ...params, stream: true }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect(error).toMatchObject({ status: 500, type: 'api_error' });
    expect((error as Error).message).toContain('boom');
  });

  it('answers other paths with the API 404 and does not consume a reply', async () => {
    server.enqueue(streamReply(textMessage('kept')));

    const response = await fetch(`${server.url}/v1/models`);
    const body: unknown = await response.json();

    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(body).toEqual({
      type: 'error',
      error: { type: 'not_found_error', message: expect.stringContaining('GET /v1/models') },
      request_id: response.headers.get('request-id'),
    });
    expect(server.lastRequest).toMatchObject({
      method: 'GET',
      path: '/v1/models',
      platform: undefined,
      body: undefined,
    });
    expect(await textOf(client)).toBe('kept');
  });

  it('answers a body that is not a JSON object with 400 invalid_request_error', async () => {
    server.enqueue(streamReply(textMessage('kept')));

    const response = await rawPost(server, 'not json');
    const body: unknown = await response.json();

    expect(response.status).toBe(400);
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(server.lastRequest).toMatchObject({ rawBody: 'not json', body: undefined, headers: { 'x-api-key': 'k' } });
    expect(await textOf(client)).toBe('kept');
  });

  it('reset() forgets the queue, the handler and the requests', async () => {
    server.enqueue(errorReply(500));
    server.respondWith(() => errorReply(500));
    await rawPost(server);

    server.reset();

    expect(server.requests).toEqual([]);
    expect(server.lastRequest).toBeUndefined();
    expect(await textOf(client)).toBe('Hello from the fake Claude server');
    expect(server.lastRequest!.index).toBe(0);
  });

  it('waitForRequests resolves once enough requests arrived, and times out otherwise', async () => {
    const waiting = server.waitForRequests(2, 1_000);
    await rawPost(server);
    await rawPost(server);

    await expect(waiting).resolves.toHaveLength(2);
    await expect(server.waitForRequests(3, 20)).rejects.toThrow(/3 request\(s\); got 2/);
  });

  it('records a completed response as completed, not closed by the client', async () => {
    const { items } = await collect(await client.messages.create({ ...params, stream: true }));
    const request = server.lastRequest!;
    await request.closed;

    expect(request.completed).toBe(true);
    expect(request.closedByClient).toBe(false);
    expect(request.eventsWritten).toBe(items.length);
    expect(request.closedAt).toBeGreaterThanOrEqual(request.receivedAt);
  });

  describe('close()', () => {
    it('destroys stalled streams and pending requests, and resolves promptly', async () => {
      const closing = await FakeClaudeServer.start();
      const own = clientFor(closing);
      closing.enqueue(streamReply(textMessage('Hello there'), { stallAfter: 1 }), stallBeforeHeaders());
      const stream = await own.messages.create({ ...params, stream: true });
      const iterating = collect(stream);
      const pending = own.messages.create({ ...params, stream: true }).catch((e: unknown) => e);
      const waiting = closing.waitForRequests(3, 5_000).catch((e: unknown) => e);
      await closing.waitForRequests(2);

      const started = performance.now();
      await closing.close();

      expect(performance.now() - started).toBeLessThan(500);
      const { items, error } = await iterating;
      expect(items).toHaveLength(1);
      expect(error).toMatchObject({ name: 'TypeError', message: 'terminated' });
      expect(await pending).toBeInstanceOf(Anthropic.APIConnectionError);
      expect(await waiting).toEqual(expect.objectContaining({ message: expect.stringMatching(/closed/) }));
      expect(closing.requests.map((request) => request.closedByClient)).toEqual([false, false]);
      await expect(closing.close()).resolves.toBeUndefined();
    });

    it('is what Symbol.asyncDispose does', async () => {
      const disposable = await FakeClaudeServer.start();

      await disposable[Symbol.asyncDispose]();

      await expect(fetch(`${disposable.url}/v1/messages`)).rejects.toThrow();
    });
  });
});

async function textOf(client: Anthropic): Promise<string> {
  const message = await client.messages.stream(params).finalMessage();
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
}
