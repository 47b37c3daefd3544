import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import Anthropic from '@anthropic-ai/sdk';
import {
  FakeClaudeServer,
  errorReply,
  messageEvents,
  recordedFile,
  recordedReply,
  redactedThinking,
  resetBeforeHeaders,
  serverToolUse,
  stallBeforeHeaders,
  streamReply,
  text,
  textMessage,
  thinking,
  toolUse,
  webSearchToolResult,
} from 'claude-rx/testing';

import { clientFor, collect, params, rawPost } from './helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/recorded/${name}`, import.meta.url));
const RECORDINGS = [
  'basic_response.sse',
  'tool_use_response.sse',
  'incomplete_partial_json_response.sse',
  'code_execution_response.sse',
];

describe('fake replies, as the real SDK sees them', () => {
  let server: FakeClaudeServer;
  let client: Anthropic;

  beforeAll(async () => {
    server = await FakeClaudeServer.start();
    client = clientFor(server);
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  describe('streamReply', () => {
    it('streams the given events in order, with the API headers', async () => {
      const events = textMessage('Hello there, general Kenobi', { chunkSize: 5 });
      server.enqueue(streamReply(events));

      const { data: stream, response } = await client.messages.create({ ...params, stream: true }).withResponse();
      const { items, error } = await collect(stream);

      expect(error).toBeUndefined();
      expect(items).toEqual(events);
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('request-id')).toBe(server.lastRequest!.requestId);
      expect(server.lastRequest!.requestId).toMatch(/^req_\w+$/);
      expect(server.lastRequest!.eventsWritten).toBe(events.length);
    });

    it('gives a finalMessage() with every block kind', async () => {
      const citation = {
        type: 'web_search_result_location' as const,
        cited_text: 'RxJS 7 is current.',
        encrypted_index: 'Eo8B',
        title: 'RxJS',
        url: 'https://rxjs.dev',
      };
      const results = [
        {
          type: 'web_search_result' as const,
          title: 'RxJS',
          url: 'https://rxjs.dev',
          encrypted_content: 'EqgC',
          page_age: null,
        },
      ];
      const events = messageEvents(
        [
          thinking('Search first, then answer.', 'sig_abc', { chunkSize: 4 }),
          redactedThinking('EmwKAhgB'),
          serverToolUse({ id: 'srvtoolu_1', name: 'web_search', input: { query: 'rxjs version' }, chunkSize: 3 }),
          webSearchToolResult({ toolUseId: 'srvtoolu_1', content: results }),
          text('RxJS 7 is current. ✨ Now the weather:', { citations: [citation], chunkSize: 6 }),
          toolUse({ id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', days: [1, 2] }, chunkSize: 2 }),
        ],
        { id: 'msg_1', model: 'claude-test', usage: { input_tokens: 42, output_tokens: 77 } },
      );
      server.enqueue(streamReply(events, { pingAfterStart: true }));

      const message = await client.messages.stream(params).finalMessage();

      expect(message).toEqual({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-test',
        content: [
          { type: 'thinking', thinking: 'Search first, then answer.', signature: 'sig_abc' },
          { type: 'redacted_thinking', data: 'EmwKAhgB' },
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'rxjs version' } },
          { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: results },
          { type: 'text', text: 'RxJS 7 is current. ✨ Now the weather:', citations: [citation] },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', days: [1, 2] } },
        ],
        stop_reason: 'tool_use',
        stop_sequence: null,
        parsed_output: null,
        usage: {
          input_tokens: 42,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: 77,
          service_tier: 'standard',
        },
      });
    });

    it('serves event types the SDK does not know', async () => {
      const [start, ...rest] = textMessage('Hi');
      server.enqueue(streamReply([start!, { type: 'future_event', detail: { n: 1 } }, ...rest]));

      const { items } = await collect(await client.messages.create({ ...params, stream: true }));

      expect(items.map((event) => event.type)).toContain('future_event');
      expect(items[1]).toEqual({ type: 'future_event', detail: { n: 1 } });
    });

    it('writes the ping as the API does, after the first content_block_start', async () => {
      server.enqueue(streamReply(textMessage('Yo', { id: 'msg_p' }), { pingAfterStart: true }));

      const body = await (await rawPost(server)).text();

      expect(body).toContain(
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
          'event: ping\ndata: {"type": "ping"}\n\n' +
          'event: content_block_delta\n',
      );
      expect(body.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n')).toBe(true);
    });

    it('surfaces errorAfter as an APIError with the error type and no status', async () => {
      const events = textMessage('Hello there', { chunkSize: 3 });
      server.enqueue(
        streamReply(events, { errorAfter: { events: 3, error: { type: 'overloaded_error', message: 'Overloaded' } } }),
      );

      const { items, error } = await collect(await client.messages.create({ ...params, stream: true }));

      expect(items).toEqual(events.slice(0, 3));
      expect(error).toBeInstanceOf(Anthropic.APIError);
      const apiError = error as InstanceType<typeof Anthropic.APIError>;
      expect(apiError.status).toBeUndefined();
      expect(apiError.type).toBe('overloaded_error');
      expect(apiError.error).toEqual({
        type: 'error',
        error: { type: 'overloaded_error', message: 'Overloaded' },
        request_id: server.lastRequest!.requestId,
      });
      await server.lastRequest!.closed;
      expect(server.lastRequest!).toMatchObject({ completed: true, closedByClient: false, eventsWritten: 4 });
    });

    it('surfaces resetAfter as TypeError: terminated, after the flushed events', async () => {
      const events = textMessage('Hello there', { chunkSize: 3 });
      server.enqueue(streamReply(events, { resetAfter: 4 }));

      const { items, error } = await collect(await client.messages.create({ ...params, stream: true }));

      expect(items).toEqual(events.slice(0, 4));
      // undici's TypeError comes from Node's realm, not jest's sandbox, so `instanceof TypeError` fails under jest.
      expect(error).toMatchObject({ name: 'TypeError', message: 'terminated' });
      await server.lastRequest!.closed;
      expect(server.lastRequest!).toMatchObject({ completed: false, closedByClient: false, eventsWritten: 4 });
    });

    it('completes without message_stop when omitMessageStop is set', async () => {
      const events = textMessage('Cut');
      server.enqueue(streamReply(events, { omitMessageStop: true }));

      const { items, error } = await collect(await client.messages.create({ ...params, stream: true }));

      expect(error).toBeUndefined();
      expect(items).toEqual(events.slice(0, -1));
      expect(items.at(-1)?.type).toBe('message_delta');
      expect(server.lastRequest!.completed).toBe(true);
    });

    it('stalls after stallAfter events until the client aborts, and records the abort', async () => {
      const events = textMessage('Hello there', { chunkSize: 3 });
      server.enqueue(streamReply(events, { stallAfter: 2 }));

      const stream = await client.messages.create({ ...params, stream: true });
      const items: unknown[] = [];
      for await (const event of stream) {
        items.push(event);
        if (items.length === 2) break;
      }
      const request = server.lastRequest!;
      await request.closed;

      expect(items).toEqual(events.slice(0, 2));
      expect(request.closedByClient).toBe(true);
      expect(request.completed).toBe(false);
      expect(request.eventsWritten).toBe(2);
      expect(request.closedAt).toBeGreaterThanOrEqual(request.receivedAt);
    });

    it('waits delayMs before each event', async () => {
      const events = textMessage('abc', { chunkSize: 1 });
      server.enqueue(streamReply(events, { delayMs: 20 }));

      const stream = await client.messages.create({ ...params, stream: true });
      const times: number[] = [];
      for await (const _event of stream) times.push(performance.now());

      // Timers may fire a little early; 15 ms per gap still separates "delayed" from "back to back".
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual((events.length - 1) * 15);
    });

    it('stops writing when the client goes away mid-delay', async () => {
      server.enqueue(streamReply(textMessage('abcdef', { chunkSize: 1 }), { delayMs: 40 }));

      const stream = await client.messages.create({ ...params, stream: true });
      for await (const _event of stream) break;
      const request = server.lastRequest!;
      await request.closed;
      const written = request.eventsWritten;
      await new Promise((resolve) => setTimeout(resolve, 100));

      expect(request.closedByClient).toBe(true);
      expect(written).toBe(1);
      expect(request.eventsWritten).toBe(written);
    });

    it('cuts writes into chunkBytes pieces that the SDK reassembles, multi-byte characters included', async () => {
      const events = textMessage('héllo wörld 🎉 ok', { chunkSize: 2 });
      server.enqueue(streamReply(events, { chunkBytes: 5 }), streamReply(events, { chunkBytes: 5 }));

      const { items } = await collect(await client.messages.create({ ...params, stream: true }));
      const reader = (await rawPost(server)).body!.getReader();
      let reads = 0;
      while (!(await reader.read()).done) reads++;

      expect(items).toEqual(events);
      expect(reads).toBeGreaterThan(events.length);
    });

    it('answers a request without stream: true with the built message as JSON', async () => {
      server.enqueue(streamReply(messageEvents([text('Plain'), toolUse({ id: 't1', name: 'f', input: { a: 1 } })])));

      const message = await client.messages.create(params);

      expect(message.content).toEqual([
        { type: 'text', text: 'Plain' },
        { type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } },
      ]);
      expect(message.stop_reason).toBe('tool_use');
    });

    it('rejects contradictory or out-of-range options', () => {
      expect(() => streamReply([], { stallAfter: 1, resetAfter: 2 })).toThrow(TypeError);
      expect(() => streamReply([], { delayMs: -1 })).toThrow(/delayMs/);
      expect(() => streamReply([], { chunkBytes: 0 })).toThrow(/chunkBytes/);
      expect(() => streamReply([{ type: 'bad\nname' }])).toThrow(TypeError);
    });
  });

  describe('errorReply', () => {
    it('surfaces a 429 as RateLimitError with the retry headers and the API body', async () => {
      server.enqueue(errorReply(429, { retryAfterMs: 1500, retryAfterSeconds: 2 }));

      const error: unknown = await client.messages.create({ ...params, stream: true }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(Anthropic.RateLimitError);
      const rateLimit = error as InstanceType<typeof Anthropic.RateLimitError>;
      expect(rateLimit.status).toBe(429);
      expect(rateLimit.type).toBe('rate_limit_error');
      expect(rateLimit.headers.get('retry-after-ms')).toBe('1500');
      expect(rateLimit.headers.get('retry-after')).toBe('2');
      expect(rateLimit.headers.get('content-type')).toBe('application/json');
      expect(rateLimit.headers.get('x-should-retry')).toBeNull();
      expect(rateLimit.requestID).toBe(server.lastRequest!.requestId);
      expect(rateLimit.error).toEqual({
        type: 'error',
        error: { type: 'rate_limit_error', message: expect.any(String) },
        request_id: server.lastRequest!.requestId,
      });
    });

    it.each([
      [400, Anthropic.BadRequestError, 'invalid_request_error'],
      [401, Anthropic.AuthenticationError, 'authentication_error'],
      [403, Anthropic.PermissionDeniedError, 'permission_error'],
      [404, Anthropic.NotFoundError, 'not_found_error'],
      [413, Anthropic.APIError, 'request_too_large'],
      [500, Anthropic.InternalServerError, 'api_error'],
      [529, Anthropic.InternalServerError, 'overloaded_error'],
    ])('defaults a %i to the API error type', async (status, errorClass, type) => {
      server.enqueue(errorReply(status));

      const error: unknown = await client.messages.create({ ...params, stream: true }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(errorClass);
      expect(error).toMatchObject({ status, type });
    });

    it('sends a custom type, message, HTTP-date retry-after and extra headers', async () => {
      const date = 'Wed, 21 Oct 2015 07:28:00 GMT';
      server.enqueue(
        errorReply(503, { type: 'custom', message: 'nope', retryAfterSeconds: date, headers: { 'x-a': 'b' } }),
      );

      const response = await rawPost(server);

      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe(date);
      expect(response.headers.get('x-a')).toBe('b');
      expect(await response.text()).toBe(
        `{"type":"error","error":{"type":"custom","message":"nope"},"request_id":"${server.lastRequest!.requestId}"}`,
      );
    });
  });

  describe('recordedReply and recordedFile', () => {
    it.each(RECORDINGS)('serves %s byte for byte', async (name) => {
      server.enqueue(recordedFile(fixture(name)));

      const response = await rawPost(server);

      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(Buffer.from(await response.arrayBuffer()).equals(readFileSync(fixture(name)))).toBe(true);
    });

    it('keeps the bytes exact when paced and chunked, counting frames', async () => {
      const bytes = readFileSync(fixture('incomplete_partial_json_response.sse'));
      server.enqueue(recordedReply(bytes, { delayMs: 1, chunkBytes: 7 }));

      const body = Buffer.from(await (await rawPost(server)).arrayBuffer());

      expect(body.equals(bytes)).toBe(true);
      expect(server.lastRequest!.eventsWritten).toBe(bytes.toString('utf8').split('event: ').length - 1);
    });

    it('feeds the SDK a recording, ping skipped', async () => {
      server.enqueue(recordedFile(fixture('tool_use_response.sse')));

      const message = await client.messages.stream(params).finalMessage();

      expect(message.content).toEqual([
        { type: 'text', text: "I'll check the current weather in Paris for you." },
        { type: 'tool_use', id: 'toolu_01NRLabsLyVHZPKxbKvkfSMn', name: 'get_weather', input: { location: 'Paris' } },
      ]);
    });
  });

  describe('resetBeforeHeaders and stallBeforeHeaders', () => {
    it('resetBeforeHeaders surfaces as APIConnectionError, not a client close', async () => {
      server.enqueue(resetBeforeHeaders());

      const error: unknown = await client.messages.create({ ...params, stream: true }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(Anthropic.APIConnectionError);
      await server.lastRequest!.closed;
      expect(server.lastRequest!.closedByClient).toBe(false);
    });

    it('stallBeforeHeaders never answers; the client abort is recorded', async () => {
      server.enqueue(stallBeforeHeaders());
      const controller = new AbortController();

      const pending = client.messages.create({ ...params, stream: true }, { signal: controller.signal });
      const [request] = await server.waitForRequests(1);
      controller.abort();

      await expect(pending).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
      await request!.closed;
      expect(request!.closedByClient).toBe(true);
      expect(request!.closedAt).toBeDefined();
    });
  });
});
