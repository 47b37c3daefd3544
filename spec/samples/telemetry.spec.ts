import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { demo, main } from '../../samples/telemetry.js';
import { openTelemetryLoaded } from '../../lib/telemetry/open-telemetry.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

/** Keeps what is exported, past the providers' shutdown (the SDK's in-memory exporters forget at shutdown). */
function collectors() {
  const spans: ReadableSpan[] = [];
  const metrics: ResourceMetrics[] = [];
  // `ExportResultCode.SUCCESS` of @opentelemetry/core.
  const done = (callback: Parameters<SpanExporter['export']>[1]) => callback({ code: 0 });
  const spanExporter: SpanExporter = {
    export: (batch, callback) => (spans.push(...batch), done(callback)),
    shutdown: async () => undefined,
  };
  const metricExporter: PushMetricExporter = {
    export: (batch, callback) => (metrics.push(batch), done(callback)),
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
  };
  return { spans, metrics, spanExporter, metricExporter };
}

describe('samples/telemetry', () => {
  beforeAll(() => openTelemetryLoaded);

  it('prints the answer, and exports the run span with each turn and the tool call under it, and the metrics', async () => {
    demo(fake.server);
    const { spans, metrics, spanExporter, metricExporter } = collectors();
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text), { spans: spanExporter, metrics: metricExporter });

    expect(writes.join('')).toBe('It is sunny in Lyon, 21 °C.\n');
    const finished = spans;
    const run = finished.find((span) => span.name === 'claude-rx.runTools');
    expect(run).toBeDefined();
    const children = finished
      .filter((span) => span.parentSpanContext?.spanId === run!.spanContext().spanId)
      .map((span) => span.name);
    expect(children.sort()).toEqual([
      'anthropic.messages.create',
      'anthropic.messages.create',
      'execute_tool get_weather',
    ]);

    // The last export is cumulative: everything recorded.
    const recorded = metrics
      .slice(-1)
      .flatMap((resource) => resource.scopeMetrics.filter((scope) => scope.scope.name === 'claude-rx'))
      .flatMap((scope) => scope.metrics);
    const tokens = recorded.find((metric) => metric.descriptor.name === 'gen_ai.client.token.usage');
    const sums = Object.fromEntries(
      (tokens?.dataPoints ?? []).map((point) => [
        point.attributes['gen_ai.token.type'],
        (point.value as { sum: number }).sum,
      ]),
    );
    // Both turns: 40 + 70 input tokens, 12 + 11 output tokens.
    expect(sums).toEqual({ input: 110, output: 23 });
    expect(recorded.map((metric) => metric.descriptor.name)).toEqual(
      expect.arrayContaining(['gen_ai.client.operation.duration', 'gen_ai.client.operation.time_to_first_chunk']),
    );
    // Two requests, in one run.
    expect(fake.server.requests).toHaveLength(2);
  });
});
