import type Anthropic from '@anthropic-ai/sdk';
import type { AnthropicFoundry } from '@anthropic-ai/foundry-sdk';
import type { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { FakeClaudeServer, streamReply, textMessage, type ClaudePlatform } from 'claude-rx/testing';

import { collect, foundryClientFor, params, rawPost, vertexClientFor, vertexProject, vertexRegion } from './helpers.js';

const TEXT = 'Hello from a platform, in several deltas';
const vertexPath = (model: string, method: 'streamRawPredict' | 'rawPredict'): string =>
  `/projects/${vertexProject}/locations/${vertexRegion}/publishers/anthropic/models/${model}:${method}`;

interface PlatformCase {
  readonly platform: ClaudePlatform;
  readonly clientFor: (server: FakeClaudeServer) => AnthropicVertex | AnthropicFoundry;
  /** The path a Messages request must hit (SDK 1.x sends beta requests to the same one, with no `?beta=true`). */
  readonly path: (stream: boolean) => string;
  /** Headers the client authenticates with. */
  readonly auth: Readonly<Record<string, string>>;
}

const PLATFORMS: readonly PlatformCase[] = [
  {
    platform: 'vertex',
    clientFor: (server) => vertexClientFor(server),
    path: (stream) => vertexPath(params.model, stream ? 'streamRawPredict' : 'rawPredict'),
    auth: { authorization: 'Bearer test' },
  },
  {
    platform: 'foundry',
    clientFor: foundryClientFor,
    path: () => '/anthropic/v1/messages',
    auth: { 'x-api-key': 'k' },
  },
];

describe.each(PLATFORMS)('FakeClaudeServer with the real $platform client', ({ platform, clientFor, path, auth }) => {
  let server: FakeClaudeServer;
  let client: AnthropicVertex | AnthropicFoundry;

  beforeAll(async () => {
    server = await FakeClaudeServer.start();
    client = clientFor(server);
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  it('streams the scripted events to messages.create({ stream: true }) and records the platform path', async () => {
    const events = textMessage(TEXT, { chunkSize: 8 });
    server.enqueue(streamReply(events));

    const { items, error } = await collect(await client.messages.create({ ...params, stream: true }));

    expect(error).toBeUndefined();
    expect(items).toEqual(events);
    const request = server.lastRequest!;
    expect(request).toMatchObject({
      method: 'POST',
      path: path(true),
      platform,
      model: params.model,
      completed: true,
      closedByClient: false,
      eventsWritten: events.length,
    });
    expect(request.headers).toMatchObject(auth);
  });

  it('gives messages.stream().finalMessage() the scripted message', async () => {
    const events = textMessage(TEXT, { id: 'msg_01Platform', model: 'claude-platform-model', chunkSize: 8 });
    server.enqueue(streamReply(events));

    // Without `parsed_output`, which only the SDK's MessageStream adds.
    const { parsed_output: _parsed, ...message } = await client.messages.stream(params).finalMessage();

    expect(message).toEqual(scriptedTextMessage(events));
    expect(server.lastRequest).toMatchObject({ path: path(true), platform });
  });

  it('answers a request without stream: true with the message as JSON', async () => {
    const events = textMessage(TEXT, { id: 'msg_01Json' });
    server.enqueue(streamReply(events));

    const message = await client.messages.create(params);

    expect(message).toEqual(scriptedTextMessage(events));
    expect(server.lastRequest).toMatchObject({ path: path(false), platform });
  });

  it('serves beta.messages.create with the betas in the header', async () => {
    const events = textMessage(TEXT);
    server.enqueue(streamReply(events));

    const stream = await client.beta.messages.create({ ...params, betas: ['some-beta-2099-01-01'], stream: true });
    const { items } = await collect(stream);

    expect(items).toEqual(events);
    expect(server.lastRequest).toMatchObject({
      path: path(true),
      platform,
      model: params.model,
      headers: { 'anthropic-beta': 'some-beta-2099-01-01' },
    });
  });

  it('records an abort mid-stream as closed by the client', async () => {
    const events = textMessage(TEXT, { chunkSize: 4 });
    server.enqueue(streamReply(events, { stallAfter: 3 }));

    const stream = await client.messages.create({ ...params, stream: true });
    const items: unknown[] = [];
    for await (const event of stream) {
      items.push(event);
      if (items.length === 3) stream.controller.abort();
    }
    const request = server.lastRequest!;
    await request.closed;

    expect(items).toEqual(events.slice(0, 3));
    expect(request).toMatchObject({ platform, closedByClient: true, completed: false, eventsWritten: 3 });
  });
});

describe('FakeClaudeServer on the Vertex path', () => {
  let server: FakeClaudeServer;

  beforeAll(async () => {
    server = await FakeClaudeServer.start();
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  it('receives what the Vertex SDK sends: the model in the path, anthropic_version in the body', async () => {
    await vertexClientFor(server).messages.create({ ...params, stream: true });

    const { model: _model, ...rest } = params;
    const request = server.lastRequest!;
    expect(request.body).toEqual({ ...rest, stream: true, anthropic_version: expect.any(String) });
    expect(request.model).toBe(params.model);
    expect(request.headers['anthropic-version']).toBeUndefined();
  });

  it("accepts the path under /v1, as on Google's hosts, and decodes the model", async () => {
    const model = 'claude-sonnet-5-5@20990101';

    await vertexClientFor(server, `${server.url}/v1`).messages.create({ ...params, model, stream: true });

    expect(server.lastRequest).toMatchObject({
      path: `/v1${vertexPath(model, 'streamRawPredict')}`,
      platform: 'vertex',
      model,
    });
  });

  it('answers a body without anthropic_version with 400 invalid_request_error, without consuming a reply', async () => {
    server.enqueue(streamReply(textMessage('kept')));
    const { model: _model, ...body } = params;

    const response = await rawPost(server, { ...body, stream: true }, vertexPath(params.model, 'streamRawPredict'));

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'anthropic_version: Field required' },
    });
    const message = await vertexClientFor(server).messages.stream(params).finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: 'kept' }]);
  });

  it.each([
    ['count tokens', 'POST', vertexPath('count-tokens', 'rawPredict')],
    ['another publisher', 'POST', vertexPath(params.model, 'rawPredict').replace('/anthropic/', '/google/')],
    ['another method', 'POST', vertexPath(params.model, 'rawPredict').replace(':rawPredict', ':predict')],
    ['a GET', 'GET', vertexPath(params.model, 'rawPredict')],
  ])('answers %s with the API 404', async (_case, method, target) => {
    const response = await fetch(`${server.url}${target}`, {
      method,
      ...(method === 'POST' && { body: JSON.stringify({ ...params, anthropic_version: 'vertex-2023-10-16' }) }),
    });

    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { type: 'not_found_error' } });
    expect(server.lastRequest).toMatchObject({ path: target, platform: undefined });
  });
});

/** The message the events of a one-text-block `textMessage(TEXT)` amount to, built from the events themselves. */
function scriptedTextMessage(events: readonly Anthropic.RawMessageStreamEvent[]): Anthropic.Message {
  const start = events.find((event) => event.type === 'message_start');
  const block = events.find((event) => event.type === 'content_block_start');
  const delta = events.find((event) => event.type === 'message_delta');
  if (!start || block?.content_block.type !== 'text' || !delta) throw new Error('not a one-text-block message');
  return {
    ...start.message,
    content: [{ ...block.content_block, text: TEXT }],
    stop_reason: delta.delta.stop_reason,
    stop_sequence: delta.delta.stop_sequence,
    usage: { ...start.message.usage, output_tokens: delta.usage.output_tokens },
  };
}
