import Anthropic from '@anthropic-ai/sdk';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { defineTool, retryOnRateLimit, runTools, type RunnableTool } from 'claude-rx';
import {
  errorReply,
  messageEvents,
  stallBeforeHeaders,
  streamReply,
  textMessage,
  toolUse,
  toolUseMessage,
} from 'claude-rx/testing';
import { collect, errorOf, PARAMS, TEST_API_KEY, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';
import { everyRecordedString, useMeterProvider, useTracerProvider, waitFor } from './support/otel.js';

// runTools' spans with the real tracer SDK: one span per run, the SDK's own call span of every turn inside it, and an
// execute_tool span per tool call; the real SDK against the fake server.

const fake = useFakeClaude();
const tracing = useTracerProvider();
const meter = useMeterProvider();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const RUN = 'claude-rx.runTools';
const CALL = 'anthropic.messages.create';
const EXECUTE = 'execute_tool get_weather';

/** Something a tool throws that must never reach telemetry: it may hold internals. */
const SECRET = 'db password hunter2 at /srv/weather/internal';

class WeatherServiceDown extends Error {
  override readonly name = 'WeatherServiceDown';
}

function weather(run: RunnableTool<{ city: string }>['run'] = (input) => `${input.city}: sunny, 21 °C`) {
  return defineTool<{ city: string }>({
    name: 'get_weather',
    inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    run,
  });
}

function parentIdOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

function only(spans: readonly ReadableSpan[]): ReadableSpan {
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

/** A turn that calls get_weather for Paris, then a final answer. */
function scriptTwoTurns(): void {
  fake.server.enqueue(
    streamReply(toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_paris' })),
    streamReply(textMessage('Sunny in Paris.')),
  );
}

describe('runTools spans', () => {
  it('one run span; each turn’s SDK call span and each execute_tool span are its children', async () => {
    scriptTwoTurns();
    let activeInTool: string | undefined;
    const tool = weather((input) => {
      activeInTool = trace.getActiveSpan()?.spanContext().spanId;
      return `${input.city}: sunny`;
    });
    await collect(runTools(fake.client, PARAMS, { tools: [tool] }));

    const run = only(await tracing.waitForSpans(RUN, 1));
    expect(run.kind).toBe(SpanKind.INTERNAL);
    expect(run.attributes).toEqual({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': PARAMS.model,
    });
    expect(run.status.code).toBe(SpanStatusCode.UNSET);
    expect(parentIdOf(run)).toBeUndefined();
    const { traceId, spanId: runId } = run.spanContext();

    const calls = await tracing.waitForSpans(CALL, 2);
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.kind).toBe(SpanKind.CLIENT);
      expect(call.spanContext().traceId).toBe(traceId);
      expect(parentIdOf(call)).toBe(runId);
    }

    const execute = only(tracing.named(EXECUTE));
    expect(execute.spanContext().traceId).toBe(traceId);
    expect(parentIdOf(execute)).toBe(runId);
    expect(execute.attributes).toEqual({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.tool.name': 'get_weather',
      'gen_ai.tool.call.id': 'toolu_paris',
      'gen_ai.tool.type': 'function',
    });
    expect(execute.status.code).toBe(SpanStatusCode.UNSET);
    // The tool runs in its span's context: the app's own spans inside a tool nest under it.
    expect(activeInTool).toBe(execute.spanContext().spanId);
    // The run span covers its children.
    expect(tracing.spans().at(-1)).toBe(run);
  });

  it('records the metrics of every turn’s request: two durations for two turns', async () => {
    scriptTwoTurns();
    await collect(runTools(fake.client, PARAMS, { tools: [weather()] }));
    const measured = await meter.collect();
    expect(measured.count('gen_ai.client.operation.duration')).toBe(2);
    expect(measured.count('gen_ai.client.operation.duration', { 'error.type': 'canceled' })).toBe(0);
    expect(measured.count('gen_ai.client.token.usage', { 'gen_ai.token.type': 'input' })).toBe(2);
  });

  it('a run inside an app span is its child', async () => {
    scriptTwoTurns();
    const tracer = trace.getTracer('spec-app');
    const appSpanId = await tracer.startActiveSpan('app.handle-request', async (span) => {
      await collect(runTools(fake.client, PARAMS, { tools: [weather()] }));
      span.end();
      return span.spanContext().spanId;
    });
    const run = only(await tracing.waitForSpans(RUN, 1));
    expect(parentIdOf(run)).toBe(appSpanId);
    expect(tracing.named(CALL).map(parentIdOf)).toEqual([run.spanContext().spanId, run.spanContext().spanId]);
  });

  it('a turn retried by perRequest: both attempts’ call spans are children of the run, both measured', async () => {
    fake.server.enqueue(
      errorReply(429, { retryAfterMs: 1 }),
      streamReply(toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_paris' })),
      streamReply(textMessage('Sunny in Paris.')),
    );
    await collect(
      runTools(fake.client, PARAMS, {
        tools: [weather()],
        perRequest: (events) => events.pipe(retryOnRateLimit({ baseDelayMs: 1, jitter: 'none' })),
      }),
    );
    const runId = only(await tracing.waitForSpans(RUN, 1)).spanContext().spanId;
    const calls = await tracing.waitForSpans(CALL, 3);
    expect(calls.map(parentIdOf)).toEqual([runId, runId, runId]);
    expect(calls.map((call) => call.attributes['error.type'])).toEqual(['rate_limit_error', undefined, undefined]);
    const measured = await meter.collect();
    expect(measured.count('gen_ai.client.operation.duration')).toBe(3);
    expect(measured.count('gen_ai.client.operation.duration', { 'error.type': 'rate_limit_error' })).toBe(1);
  });

  it('two runs at once: each one’s call and tool spans are its own children', async () => {
    // Each run asks about its own city; the answer follows the question, whichever request comes first.
    fake.server.respondWith((request) => {
      const messages = request.body?.['messages'] as { content: unknown }[];
      const city = JSON.stringify(messages[0]!.content).includes('Rome') ? 'Rome' : 'Paris';
      return messages.length === 1
        ? streamReply(toolUseMessage('get_weather', { city }, { toolUseId: `toolu_${city}` }), { delayMs: 2 })
        : streamReply(textMessage(`Sunny in ${city}.`), { delayMs: 2 });
    });
    const ask = (city: string) =>
      collect(
        runTools(
          fake.client,
          { ...PARAMS, messages: [{ role: 'user', content: `Weather in ${city}?` }] },
          {
            tools: [
              weather(async (input) => {
                await new Promise((resolve) => setTimeout(resolve, 5));
                return input.city;
              }),
            ],
          },
        ),
      );
    await Promise.all([ask('Paris'), ask('Rome')]);
    const runs = await tracing.waitForSpans(RUN, 2);
    await tracing.waitForSpans(CALL, 4);
    expect(new Set(runs.map((run) => run.spanContext().traceId)).size).toBe(2);
    for (const run of runs) {
      const { traceId, spanId } = run.spanContext();
      const children = tracing.spans().filter((span) => parentIdOf(span) === spanId);
      expect(children.map((span) => span.name).sort()).toEqual([CALL, CALL, EXECUTE]);
      expect(children.every((span) => span.spanContext().traceId === traceId)).toBe(true);
    }
    const ids = tracing.named(EXECUTE).map((execute) => execute.attributes['gen_ai.tool.call.id']);
    expect(ids.sort()).toEqual(['toolu_Paris', 'toolu_Rome']);
  });

  it('one execute_tool span per call of a turn that calls the tool twice', async () => {
    fake.server.enqueue(
      streamReply(
        messageEvents([
          toolUse({ id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } }),
          toolUse({ id: 'toolu_b', name: 'get_weather', input: { city: 'Rome' } }),
        ]),
      ),
      streamReply(textMessage('Sunny in both.')),
    );
    await collect(runTools(fake.client, PARAMS, { tools: [weather()] }));
    await tracing.waitForSpans(RUN, 1);
    const executes = tracing.named(EXECUTE);
    expect(executes.map((span) => span.attributes['gen_ai.tool.call.id']).sort()).toEqual(['toolu_a', 'toolu_b']);
    const runId = only(tracing.named(RUN)).spanContext().spanId;
    expect(executes.map(parentIdOf)).toEqual([runId, runId]);
  });

  it('a throwing tool: error.type and status ERROR on its span, and its message in no span at all', async () => {
    scriptTwoTurns();
    const tool = weather(() => {
      throw new WeatherServiceDown(SECRET);
    });
    const events = await collect(runTools(fake.client, PARAMS, { tools: [tool] }));
    expect(events.find((event) => event.type === 'tool_result')).toMatchObject({ isError: true });

    const run = only(await tracing.waitForSpans(RUN, 1));
    const execute = only(tracing.named(EXECUTE));
    expect(execute.status.code).toBe(SpanStatusCode.ERROR);
    expect(execute.attributes['error.type']).toBe('WeatherServiceDown');
    expect(execute.attributes).not.toHaveProperty('gen_ai.tool.call.result');
    // The model was told; the run went on and is no failure.
    expect(run.status.code).toBe(SpanStatusCode.UNSET);
    expect(run.attributes).not.toHaveProperty('error.type');
    expect(tracing.named(CALL)).toHaveLength(2);
    const recorded = everyRecordedString(tracing.spans());
    expect(recorded.filter((value) => value.includes('hunter2'))).toEqual([]);
  });

  it('a tool input the schema rejects: error.type tool_error on its span', async () => {
    fake.server.enqueue(
      streamReply(toolUseMessage('get_weather', { town: 'Paris' }, { toolUseId: 'toolu_bad' })),
      streamReply(textMessage('Sorry.')),
    );
    await collect(runTools(fake.client, PARAMS, { tools: [weather()] }));
    await tracing.waitForSpans(RUN, 1);
    const execute = only(tracing.named(EXECUTE));
    expect(execute.attributes).toMatchObject({ 'error.type': 'tool_error', 'gen_ai.tool.call.id': 'toolu_bad' });
    expect(execute.status.code).toBe(SpanStatusCode.ERROR);
  });

  describe('tool content', () => {
    it('is not recorded by default (the client records metadata only)', async () => {
      expect(fake.client.openTelemetry.traces.contentMode).toBe('metadata_only');
      scriptTwoTurns();
      await collect(runTools(fake.client, PARAMS, { tools: [weather()] }));
      await tracing.waitForSpans(RUN, 1);
      const execute = only(tracing.named(EXECUTE));
      expect(execute.attributes).not.toHaveProperty('gen_ai.tool.call.arguments');
      expect(execute.attributes).not.toHaveProperty('gen_ai.tool.call.result');
      expect(everyRecordedString(tracing.spans()).filter((value) => value.includes('sunny'))).toEqual([]);
    });

    it('is recorded when the client opted in (openTelemetry traces contentMode content)', async () => {
      const client = new Anthropic({
        apiKey: TEST_API_KEY,
        baseURL: fake.server.url,
        maxRetries: 0,
        openTelemetry: { traces: { contentMode: 'content' } },
      });
      expect(client.openTelemetry.traces.contentMode).toBe('content');
      scriptTwoTurns();
      await collect(runTools(client, PARAMS, { tools: [weather()] }));
      await tracing.waitForSpans(RUN, 1);
      const execute = only(tracing.named(EXECUTE));
      expect(JSON.parse(String(execute.attributes['gen_ai.tool.call.arguments']))).toEqual({ city: 'Paris' });
      expect(execute.attributes['gen_ai.tool.call.result']).toBe('Paris: sunny, 21 °C');
    });

    it('a throwing tool’s message stays out of claude-rx’s spans even when content is recorded', async () => {
      const client = new Anthropic({
        apiKey: TEST_API_KEY,
        baseURL: fake.server.url,
        maxRetries: 0,
        openTelemetry: { traces: { contentMode: 'content' } },
      });
      scriptTwoTurns();
      const tool = weather(() => Promise.reject(new WeatherServiceDown(SECRET)));
      await collect(runTools(client, PARAMS, { tools: [tool] }));
      await tracing.waitForSpans(RUN, 1);
      const execute = only(tracing.named(EXECUTE));
      expect(execute.attributes['error.type']).toBe('WeatherServiceDown');
      expect(execute.attributes).not.toHaveProperty('gen_ai.tool.call.result');
      const ours = [...tracing.named(RUN), ...tracing.named(EXECUTE)];
      expect(everyRecordedString(ours).filter((value) => value.includes('hunter2'))).toEqual([]);
      // The control: the model read the message in the tool result, which the SDK's own content mode records on the
      // second turn's call span (the app's opt-in), so the search above does see what spans hold.
      const secondCall = (await tracing.waitForSpans(CALL, 2))[1]!;
      expect(everyRecordedString([secondCall]).some((value) => value.includes('hunter2'))).toBe(true);
    });
  });

  describe('a run that ends early', () => {
    it('unsubscribed during a slow tool: every span ended, the run canceled, the tool’s signal aborted', async () => {
      fake.server.enqueue(streamReply(toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_slow' })));
      let toolSignal: AbortSignal | undefined;
      let toolStarted!: () => void;
      const started = new Promise<void>((resolve) => (toolStarted = resolve));
      const tool = weather(
        (_input, { signal }) =>
          new Promise<string>((resolve) => {
            toolSignal = signal;
            toolStarted();
            signal.addEventListener('abort', () => resolve('never used'));
          }),
      );
      const subscription = runTools(fake.client, PARAMS, { tools: [tool] }).subscribe();
      await started;
      expect(tracing.named(RUN)).toEqual([]);
      subscription.unsubscribe();
      expect(toolSignal?.aborted).toBe(true);

      const run = only(await tracing.waitForSpans(RUN, 1));
      expect(run.attributes['error.type']).toBe('canceled');
      expect(run.status.code).toBe(SpanStatusCode.UNSET);
      const execute = only(await tracing.waitForSpans(EXECUTE, 1));
      expect(execute.attributes['error.type']).toBe('canceled');
      expect(execute.status.code).toBe(SpanStatusCode.UNSET);
      expect(parentIdOf(execute)).toBe(run.spanContext().spanId);
      const call = only(await tracing.waitForSpans(CALL, 1));
      expect(call.status.code).toBe(SpanStatusCode.OK);
      expect(tracing.spans()).toHaveLength(3);
    });

    it('unsubscribed while a turn’s request waits: the call span ends too, and the request is aborted', async () => {
      fake.server.enqueue(
        streamReply(toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_paris' })),
        stallBeforeHeaders(),
      );
      const subscription = runTools(fake.client, PARAMS, { tools: [weather()] }).subscribe();
      const [, second] = await fake.server.waitForRequests(2);
      subscription.unsubscribe();
      await second!.closed;
      expect(second!.closedByClient).toBe(true);

      const run = only(await tracing.waitForSpans(RUN, 1));
      expect(run.attributes['error.type']).toBe('canceled');
      const calls = await tracing.waitForSpans(CALL, 2);
      expect(calls.map(parentIdOf)).toEqual([run.spanContext().spanId, run.spanContext().spanId]);
      expect(only(tracing.named(EXECUTE)).attributes).not.toHaveProperty('error.type');
      const measured = await meter.collect();
      expect(measured.count('gen_ai.client.operation.duration', { 'error.type': 'canceled' })).toBe(1);
    });

    it('failed by a turn’s HTTP error: the run span has its error.type and status ERROR', async () => {
      fake.server.enqueue(
        streamReply(toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_paris' })),
        errorReply(529),
      );
      await errorOf(runTools(fake.client, PARAMS, { tools: [weather()] }));
      const run = only(await tracing.waitForSpans(RUN, 1));
      expect(run.attributes['error.type']).toBe('overloaded_error');
      expect(run.status.code).toBe(SpanStatusCode.ERROR);
      const calls = await tracing.waitForSpans(CALL, 2);
      expect(calls.map((call) => call.attributes['error.type'])).toEqual([undefined, 'overloaded_error']);
    });

    it('unsubscribed inside next, on the first tool result: the spans end once', async () => {
      scriptTwoTurns();
      const result = await new Promise<unknown>((resolve) => {
        const subscription = runTools(fake.client, PARAMS, { tools: [weather()] }).subscribe((event) => {
          if (event.type !== 'tool_result') return;
          subscription.unsubscribe();
          resolve(event);
        });
      });
      expect(result).toMatchObject({ type: 'tool_result', toolUseId: 'toolu_paris' });
      const run = only(await tracing.waitForSpans(RUN, 1));
      expect(run.attributes['error.type']).toBe('canceled');
      // The tool's span ended with its result, before the subscriber left.
      expect(only(tracing.named(EXECUTE)).attributes).not.toHaveProperty('error.type');
      await waitFor(
        () => tracing.named(CALL).length === 1,
        () => 'the first turn’s call span',
      );
      expect(fake.server.requests).toHaveLength(1);
    });
  });
});
