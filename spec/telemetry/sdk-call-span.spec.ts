import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { first, lastValueFrom, tap } from 'rxjs';
import { claudeStream, finalMessage } from 'claude-rx';
import { errorReply, messageEvents, stallBeforeHeaders, streamReply, text, textMessage } from 'claude-rx/testing';
import { collect, errorOf, PARAMS, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';
import { useMeterProvider, useTracerProvider } from './support/otel.js';

// The SDK traces each call itself; through claudeStream its `anthropic.messages.create` span stays whole: one per
// request, with the attributes the SDK reads from the stream, ended when the body has been read or abandoned. And the
// metrics claude-rx records agree with what that span says.

const fake = useFakeClaude();
const tracing = useTracerProvider();
const meter = useMeterProvider();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const CALL = 'anthropic.messages.create';
const RESPONSE_MODEL = 'claude-sonnet-5-5-20260101';

describe('the SDK’s call span through claudeStream', () => {
  it('one span per request, with the usage the stream said, ended only after the body was read', async () => {
    fake.server.enqueue(
      streamReply(
        textMessage('Hello, traced world', {
          model: RESPONSE_MODEL,
          usage: { input_tokens: 12, cache_creation_input_tokens: 30, cache_read_input_tokens: 200, output_tokens: 9 },
        }),
      ),
      streamReply(textMessage('Again')),
    );
    const endedAtMessageDelta: number[] = [];
    await collect(
      claudeStream(fake.client, PARAMS).pipe(
        tap((event) => event.type === 'message_delta' && endedAtMessageDelta.push(tracing.named(CALL).length)),
      ),
    );
    // The body was still being read at message_delta: the span had not ended.
    expect(endedAtMessageDelta).toEqual([0]);

    const span = (await tracing.waitForSpans(CALL, 1))[0]!;
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.OK);
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': PARAMS.model,
      'gen_ai.request.stream': true,
      'gen_ai.response.model': RESPONSE_MODEL,
      'gen_ai.usage.input_tokens': 12 + 30 + 200,
      'gen_ai.usage.cache_read.input_tokens': 200,
      'gen_ai.usage.cache_write.input_tokens': 30,
      'gen_ai.usage.output_tokens': 9,
      'anthropic.message.stop_reason': 'end_turn',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': fake.server.port,
    });
    expect(span.attributes['anthropic.request.id']).toBe(fake.server.requests[0]!.requestId);

    await collect(claudeStream(fake.client, PARAMS));
    expect(await tracing.waitForSpans(CALL, 2)).toHaveLength(2);
    expect(tracing.spans()).toHaveLength(2);
  });

  it('the input and output tokens of the metrics equal the span’s', async () => {
    fake.server.enqueue(
      streamReply(
        textMessage('Counted twice', {
          usage: { input_tokens: 7, cache_creation_input_tokens: 3, cache_read_input_tokens: 50, output_tokens: 4 },
        }),
      ),
    );
    await collect(claudeStream(fake.client, PARAMS));
    const span = (await tracing.waitForSpans(CALL, 1))[0]!;
    const measured = await meter.collect();
    expect(measured.sum('gen_ai.client.token.usage', { 'gen_ai.token.type': 'input' })).toBe(
      span.attributes['gen_ai.usage.input_tokens'],
    );
    expect(measured.sum('gen_ai.client.token.usage', { 'gen_ai.token.type': 'output' })).toBe(
      span.attributes['gen_ai.usage.output_tokens'],
    );
  });

  // A null count in message_delta is "does not apply": it keeps message_start's, as the SDK's span does.
  it('a message_delta with input_tokens and null cache counts keeps message_start’s cache tokens', async () => {
    const events = messageEvents([text('Totals at the end')], {
      usage: { input_tokens: 12, cache_creation_input_tokens: 30, cache_read_input_tokens: 200, output_tokens: 5 },
    }).map((event) =>
      event.type === 'message_delta'
        ? {
            ...event,
            usage: {
              ...event.usage,
              input_tokens: 12,
              cache_creation_input_tokens: null,
              cache_read_input_tokens: null,
            },
          }
        : event,
    );
    fake.server.enqueue(streamReply(events));
    await collect(claudeStream(fake.client, PARAMS));
    const span = (await tracing.waitForSpans(CALL, 1))[0]!;
    expect(span.attributes['gen_ai.usage.input_tokens']).toBe(242);
    const measured = await meter.collect();
    expect(measured.sum('gen_ai.client.token.usage', { 'gen_ai.token.type': 'input' })).toBe(242);
  });

  // message_start's output_tokens is a placeholder: the count comes with message_delta.
  it('a stream that fails before message_delta records no output token usage, as the span', async () => {
    fake.server.enqueue(
      streamReply(textMessage('Broken before the end', { chunkSize: 3 }), {
        errorAfter: { events: 4, error: { type: 'overloaded_error', message: 'Overloaded' } },
      }),
    );
    await errorOf(claudeStream(fake.client, PARAMS));
    const span = (await tracing.waitForSpans(CALL, 1))[0]!;
    expect(span.attributes).not.toHaveProperty('gen_ai.usage.output_tokens');
    expect(span.attributes['gen_ai.usage.input_tokens']).toBe(10);
    const measured = await meter.collect();
    expect(measured.sum('gen_ai.client.token.usage', { 'gen_ai.token.type': 'input' })).toBe(10);
    expect(measured.count('gen_ai.client.token.usage', { 'gen_ai.token.type': 'output' })).toBe(0);
  });

  it('through finalMessage() too: one span, one duration', async () => {
    fake.server.enqueue(streamReply(textMessage('Final')));
    const message = await lastValueFrom(claudeStream(fake.client, PARAMS).pipe(finalMessage()));
    expect(message.content).toEqual([{ type: 'text', text: 'Final' }]);
    expect(await tracing.waitForSpans(CALL, 1)).toHaveLength(1);
    expect((await meter.collect()).count('gen_ai.client.operation.duration')).toBe(1);
  });

  it('an HTTP error: one span with the SDK’s error.type and status ERROR', async () => {
    fake.server.enqueue(errorReply(529));
    await errorOf(claudeStream(fake.client, PARAMS));
    const span = (await tracing.waitForSpans(CALL, 1))[0]!;
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({ 'error.type': 'overloaded_error', 'http.response.status_code': 529 });
    expect(tracing.spans()).toHaveLength(1);
  });

  describe('unsubscribed', () => {
    it('mid-stream: the span ends, canceled (status unset), once', async () => {
      fake.server.enqueue(
        streamReply(textMessage('A long answer, never finished', { chunkSize: 2 }), { stallAfter: 4 }),
      );
      let sawDelta!: () => void;
      const delta = new Promise<void>((resolve) => (sawDelta = resolve));
      const subscription = claudeStream(fake.client, PARAMS).subscribe({
        next: (event) => event.type === 'content_block_delta' && sawDelta(),
      });
      await delta;
      expect(tracing.named(CALL)).toEqual([]);
      subscription.unsubscribe();

      const span = (await tracing.waitForSpans(CALL, 1))[0]!;
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.attributes).not.toHaveProperty('error.type');
      const [request] = await fake.server.waitForRequests(1);
      await request!.closed;
      expect(request!.closedByClient).toBe(true);
      expect(tracing.named(CALL)).toHaveLength(1);
    });

    it('inside next (first()): the span ends', async () => {
      fake.server.enqueue(streamReply(textMessage('Several chunks of text', { chunkSize: 2 })));
      await lastValueFrom(
        claudeStream(fake.client, PARAMS).pipe(first((event) => event.type === 'content_block_delta')),
      );
      const span = (await tracing.waitForSpans(CALL, 1))[0]!;
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(tracing.named(CALL)).toHaveLength(1);
    });

    it('before the response headers: the span ends', async () => {
      fake.server.enqueue(stallBeforeHeaders());
      const subscription = claudeStream(fake.client, PARAMS).subscribe();
      const [request] = await fake.server.waitForRequests(1);
      subscription.unsubscribe();
      await request!.closed;
      const span = (await tracing.waitForSpans(CALL, 1))[0]!;
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(tracing.named(CALL)).toHaveLength(1);
    });
  });
});
