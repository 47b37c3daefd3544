import { APIConnectionError } from '@anthropic-ai/sdk';
import { filter, first, lastValueFrom } from 'rxjs';
import { claudeStream, IncompleteStreamError } from 'claude-rx';
import {
  errorReply,
  resetBeforeHeaders,
  stallBeforeHeaders,
  streamReply,
  textMessage,
  type FakeClaudeServer,
  type FakeStreamEvent,
} from 'claude-rx/testing';
import { collect, errorOf, PARAMS, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';
import { foundryClientFor, vertexClientFor } from '../testing/helpers.js';
import { useMeterProvider, type Measurements } from './support/otel.js';

// The GenAI client metrics of claudeStream, read from a real MeterProvider while the real SDK talks to the fake
// server.

const fake = useFakeClaude();
const meter = useMeterProvider();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const DURATION = 'gen_ai.client.operation.duration';
const TOKEN_USAGE = 'gen_ai.client.token.usage';
const FIRST_CHUNK = 'gen_ai.client.operation.time_to_first_chunk';
const PER_CHUNK = 'gen_ai.client.operation.time_per_output_chunk';

// The bucket boundaries the GenAI semantic conventions advise, copied from the conventions, not from lib/.
const SECONDS_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const BOUNDARIES = {
  [DURATION]: SECONDS_BUCKETS,
  [FIRST_CHUNK]: SECONDS_BUCKETS,
  [PER_CHUNK]: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
  [TOKEN_USAGE]: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
};

const RESPONSE_MODEL = 'claude-sonnet-5-5-20260101';

function deltasOf(events: readonly FakeStreamEvent[]): number {
  return events.filter((event) => event.type === 'content_block_delta').length;
}

/** The attributes every data point of a request to the fake server carries. */
function requestAttributes(server: FakeClaudeServer, provider = 'anthropic') {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': PARAMS.model,
    'server.address': '127.0.0.1',
    'server.port': server.port,
  };
}

/** The single data point of `name`, after checking there is exactly one. */
function onlyPoint(measured: Measurements, name: string) {
  const points = measured.points(name);
  expect(points).toHaveLength(1);
  return points[0]!;
}

describe('GenAI client metrics of claudeStream', () => {
  it('records the four histograms of a streamed answer, with the conventions attributes, units and buckets', async () => {
    const events = textMessage('Hello there, general metrics!', {
      model: RESPONSE_MODEL,
      chunkSize: 4,
      usage: { input_tokens: 12, cache_creation_input_tokens: 30, cache_read_input_tokens: 200, output_tokens: 9 },
    });
    const deltas = deltasOf(events);
    expect(deltas).toBeGreaterThan(2);
    fake.server.enqueue(streamReply(events, { delayMs: 2 }));

    await lastValueFrom(claudeStream(fake.client, PARAMS));
    const measured = await meter.collect();

    expect(measured.names).toEqual([DURATION, FIRST_CHUNK, PER_CHUNK, TOKEN_USAGE].sort());
    const base = requestAttributes(fake.server);
    const duration = onlyPoint(measured, DURATION);
    expect(duration.attributes).toEqual({ ...base, 'gen_ai.response.model': RESPONSE_MODEL });
    expect(duration.value.count).toBe(1);
    expect(duration.value.sum).toBeGreaterThan(0);
    expect(measured.unit(DURATION)).toBe('s');

    const firstChunk = onlyPoint(measured, FIRST_CHUNK);
    expect(firstChunk.attributes).toMatchObject(base);
    expect(firstChunk.value.count).toBe(1);
    expect(firstChunk.value.sum).toBeGreaterThan(0);
    expect(firstChunk.value.sum).toBeLessThanOrEqual(duration.value.sum!);

    const perChunk = onlyPoint(measured, PER_CHUNK);
    expect(perChunk.attributes).toMatchObject(base);
    expect(perChunk.value.count).toBe(deltas - 1);
    expect(measured.unit(PER_CHUNK)).toBe('s');

    // Input counts cache writes and reads too, as the SDK's span does.
    expect(measured.points(TOKEN_USAGE).map((point) => [point.attributes, point.value.sum, point.value.count])).toEqual(
      expect.arrayContaining([
        [{ ...base, 'gen_ai.response.model': RESPONSE_MODEL, 'gen_ai.token.type': 'input' }, 12 + 30 + 200, 1],
        [{ ...base, 'gen_ai.response.model': RESPONSE_MODEL, 'gen_ai.token.type': 'output' }, 9, 1],
      ]),
    );
    expect(measured.points(TOKEN_USAGE)).toHaveLength(2);
    expect(measured.unit(TOKEN_USAGE)).toBe('{token}');

    for (const [name, boundaries] of Object.entries(BOUNDARIES)) {
      expect([name, measured.points(name)[0]!.value.buckets.boundaries]).toEqual([name, boundaries]);
    }
  });

  // message_start, which names the model, always comes before the first content_block_delta.
  it('the chunk timings carry gen_ai.response.model too', async () => {
    fake.server.enqueue(streamReply(textMessage('Two chunks at least', { model: RESPONSE_MODEL, chunkSize: 5 })));
    await collect(claudeStream(fake.client, PARAMS));
    const measured = await meter.collect();
    const withModel = { ...requestAttributes(fake.server), 'gen_ai.response.model': RESPONSE_MODEL };
    expect(onlyPoint(measured, FIRST_CHUNK).attributes).toEqual(withModel);
    expect(onlyPoint(measured, PER_CHUNK).attributes).toEqual(withModel);
  });

  it('counts input tokens without cache usage as the input tokens alone, and one point per request', async () => {
    fake.server.enqueue(
      streamReply(textMessage('one', { usage: { input_tokens: 5, output_tokens: 2 } })),
      streamReply(textMessage('two', { usage: { input_tokens: 6, output_tokens: 3 } })),
    );
    await collect(claudeStream(fake.client, PARAMS));
    await collect(claudeStream(fake.client, PARAMS));
    const measured = await meter.collect();

    expect(measured.count(DURATION)).toBe(2);
    expect(measured.sum(TOKEN_USAGE, { 'gen_ai.token.type': 'input' })).toBe(11);
    expect(measured.count(TOKEN_USAGE, { 'gen_ai.token.type': 'input' })).toBe(2);
    expect(measured.sum(TOKEN_USAGE, { 'gen_ai.token.type': 'output' })).toBe(5);
    expect(measured.count(FIRST_CHUNK)).toBe(2);
  });

  describe('a failed request', () => {
    it('an HTTP 529 before the stream: the duration with error.type overloaded_error, no chunk or token points', async () => {
      fake.server.enqueue(errorReply(529));
      await errorOf(claudeStream(fake.client, PARAMS));
      const measured = await meter.collect();

      expect(measured.names).toEqual([DURATION]);
      expect(onlyPoint(measured, DURATION).attributes).toEqual({
        ...requestAttributes(fake.server),
        'error.type': 'overloaded_error',
      });
    });

    it('an HTTP error whose body names no error type: error.type is the HTTP status', async () => {
      fake.server.enqueue(errorReply(503, { type: '' }));
      await errorOf(claudeStream(fake.client, PARAMS));
      const measured = await meter.collect();
      expect(onlyPoint(measured, DURATION).attributes['error.type']).toBe('503');
    });

    it('a connection reset before the headers: error.type names the SDK error class', async () => {
      fake.server.enqueue(resetBeforeHeaders());
      const error = await errorOf(claudeStream(fake.client, PARAMS));
      expect(error).toBeInstanceOf(APIConnectionError);
      const measured = await meter.collect();
      expect(onlyPoint(measured, DURATION).attributes['error.type']).toBe('APIConnectionError');
    });

    it('a mid-stream error event: error.type of the API error, and the input tokens that message_start said', async () => {
      const events = textMessage('A longer answer that breaks', { model: RESPONSE_MODEL, chunkSize: 3 });
      fake.server.enqueue(
        streamReply(events, { errorAfter: { events: 4, error: { type: 'overloaded_error', message: 'Overloaded' } } }),
      );
      await errorOf(claudeStream(fake.client, PARAMS));
      const measured = await meter.collect();

      const duration = onlyPoint(measured, DURATION);
      expect(duration.attributes).toEqual({
        ...requestAttributes(fake.server),
        'gen_ai.response.model': RESPONSE_MODEL,
        'error.type': 'overloaded_error',
      });
      expect(measured.count(FIRST_CHUNK)).toBe(1);
      expect(measured.sum(TOKEN_USAGE, { 'gen_ai.token.type': 'input', 'error.type': 'overloaded_error' })).toBe(10);
    });

    it('a stream cut without message_stop: error.type IncompleteStreamError', async () => {
      fake.server.enqueue(
        streamReply(textMessage('Cut short', { usage: { output_tokens: 4 } }), { omitMessageStop: true }),
      );
      const error = await errorOf(claudeStream(fake.client, PARAMS));
      expect(error).toBeInstanceOf(IncompleteStreamError);
      const measured = await meter.collect();

      expect(onlyPoint(measured, DURATION).attributes['error.type']).toBe('IncompleteStreamError');
      // message_delta came: the output count is final.
      expect(measured.sum(TOKEN_USAGE, { 'gen_ai.token.type': 'output', 'error.type': 'IncompleteStreamError' })).toBe(
        4,
      );
    });

    it('a dropped connection mid-body: error.type IncompleteStreamError, not the socket error inside it', async () => {
      fake.server.enqueue(streamReply(textMessage('Dropped mid-way', { chunkSize: 2 }), { resetAfter: 4 }));
      const error = await errorOf(claudeStream(fake.client, PARAMS));
      expect(error).toBeInstanceOf(IncompleteStreamError);
      const measured = await meter.collect();
      expect(onlyPoint(measured, DURATION).attributes['error.type']).toBe('IncompleteStreamError');
    });
  });

  describe('an unsubscribed request', () => {
    it('records exactly one duration with error.type canceled, and the request is aborted', async () => {
      fake.server.enqueue(
        streamReply(textMessage('A long answer, never finished', { chunkSize: 2 }), { stallAfter: 4 }),
      );
      let sawDelta!: () => void;
      const delta = new Promise<void>((resolve) => (sawDelta = resolve));
      const subscription = claudeStream(fake.client, PARAMS).subscribe({
        next: (event) => event.type === 'content_block_delta' && sawDelta(),
      });
      await delta;
      subscription.unsubscribe();
      const [request] = await fake.server.waitForRequests(1);
      await request!.closed;
      expect(request!.closedByClient).toBe(true);

      const measured = await meter.collect();
      expect(measured.count(DURATION)).toBe(1);
      expect(onlyPoint(measured, DURATION).attributes).toEqual({
        ...requestAttributes(fake.server),
        'gen_ai.response.model': 'claude-sonnet-5-5',
        'error.type': 'canceled',
      });
      expect(measured.count(FIRST_CHUNK)).toBe(1);
    });

    it('before the response headers: canceled, without a response model or chunk points', async () => {
      fake.server.enqueue(stallBeforeHeaders());
      const subscription = claudeStream(fake.client, PARAMS).subscribe();
      const [request] = await fake.server.waitForRequests(1);
      subscription.unsubscribe();
      await request!.closed;

      const measured = await meter.collect();
      expect(measured.names).toEqual([DURATION]);
      expect(onlyPoint(measured, DURATION).attributes).toEqual({
        ...requestAttributes(fake.server),
        'error.type': 'canceled',
      });
    });

    it('unsubscribing inside next (first()) records the cancel once, and nothing after', async () => {
      fake.server.enqueue(streamReply(textMessage('Several chunks of text here', { chunkSize: 2 })));
      const firstDelta = await lastValueFrom(
        claudeStream(fake.client, PARAMS).pipe(first((event) => event.type === 'content_block_delta')),
      );
      expect(firstDelta.type).toBe('content_block_delta');
      const [request] = await fake.server.waitForRequests(1);
      await request!.closed;

      const measured = await meter.collect();
      expect(measured.count(DURATION)).toBe(1);
      expect(measured.count(DURATION, { 'error.type': 'canceled' })).toBe(1);
      expect(measured.count(FIRST_CHUNK)).toBe(1);
      expect(measured.count(PER_CHUNK)).toBe(0);
      // Nothing is recorded later, when the aborted body's read settles.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await meter.collect()).names).toEqual([]);
    });

    it('unsubscribing inside next of message_stop, before complete: one point', async () => {
      fake.server.enqueue(streamReply(textMessage('Done')));
      await lastValueFrom(
        claudeStream(fake.client, PARAMS).pipe(
          filter((event) => event.type === 'message_stop'),
          first(),
        ),
      );
      const [request] = await fake.server.waitForRequests(1);
      await request!.closed;
      const measured = await meter.collect();
      expect(measured.count(DURATION)).toBe(1);
    });
  });

  describe('the provider of a platform client', () => {
    it.each([
      ['AnthropicVertex', 'gcp.vertex_ai', (server: FakeClaudeServer) => vertexClientFor(server)],
      ['AnthropicFoundry', 'azure.ai.inference', (server: FakeClaudeServer) => foundryClientFor(server)],
    ])('%s: gen_ai.provider.name %s', async (_name, provider, clientFor) => {
      fake.server.enqueue(streamReply(textMessage('From the platform')));
      await collect(claudeStream(clientFor(fake.server), PARAMS));
      const measured = await meter.collect();

      expect(onlyPoint(measured, DURATION).attributes).toMatchObject({
        ...requestAttributes(fake.server, provider),
        'gen_ai.response.model': 'claude-sonnet-5-5',
      });
      expect(measured.count(TOKEN_USAGE, { 'gen_ai.provider.name': provider })).toBe(2);
    });
  });
});
