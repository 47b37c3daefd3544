/**
 * Telemetry: the OpenTelemetry SDK wired as an application does, with console exporters, around a `runTools` run.
 *
 * claude-rx records through `@opentelemetry/api` whatever providers the app registers:
 *
 * - the GenAI client metrics of every request (`gen_ai.client.operation.duration`, `...time_to_first_chunk`,
 *   `...time_per_output_chunk`, `gen_ai.client.token.usage`);
 * - a `claude-rx.runTools` span over the run, with the SDK's own `anthropic.messages.create` span of each turn and an
 *   `execute_tool get_weather` span for the tool call as its children (a context manager makes them nest).
 *
 * Without a provider, none of it costs anything. No prompt or completion text is recorded unless the client opts in
 * (`new Anthropic({ openTelemetry: { traces: { contentMode: 'content' } } })`).
 *
 * Run: `node dist/samples/telemetry.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake server).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { lastValueFrom } from 'rxjs';
import { defineTool, finalConversation, runTools } from 'claude-rx';
import { streamReply, textMessage, toolUseMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

/** Where the telemetry goes: the console, unless told otherwise (the sample's test reads it from memory). */
export interface TelemetryExporters {
  readonly spans?: SpanExporter;
  readonly metrics?: PushMetricExporter;
}

/**
 * Registers a tracer provider, a meter provider and a context manager globally, as an application's OpenTelemetry
 * setup does at start-up, and returns how to flush and remove them.
 */
export function startTelemetry(exporters: TelemetryExporters = {}): { shutdown(): Promise<void> } {
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporters.spans ?? new ConsoleSpanExporter())],
  });
  const metricReader = new PeriodicExportingMetricReader({
    exporter: exporters.metrics ?? new ConsoleMetricExporter(),
    exportIntervalMillis: 60_000,
  });
  const meterProvider = new MeterProvider({ readers: [metricReader] });
  // The context manager makes a span started inside another's context its child, across awaits and timers.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    async shutdown() {
      // Shutting the meter provider down exports what was recorded once more.
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
      trace.disable();
      metrics.disable();
      context.disable();
    },
  };
}

const getWeather = defineTool({
  name: 'get_weather',
  description: 'The current weather in a city.',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  run: ({ city }: { city: string }) => `${city}: sunny, 21 °C`,
});

/** Asks about the weather (a tool call, then the answer), with telemetry on, and prints the answer. */
export async function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
  exporters: TelemetryExporters = {},
): Promise<void> {
  const telemetry = startTelemetry(exporters);
  try {
    const conversation = await lastValueFrom(
      runTools(
        client,
        { model: MODEL, max_tokens: 1024, messages: [{ role: 'user', content: 'What is the weather in Lyon?' }] },
        { tools: [getWeather], maxTurns: 3 },
      ).pipe(finalConversation()),
    );
    const answer = conversation.at(-1);
    const text = Array.isArray(answer?.content)
      ? answer.content.map((block) => (block.type === 'text' ? block.text : '')).join('')
      : '';
    write(`${text}\n`);
  } finally {
    await telemetry.shutdown();
  }
}

/** What the fake server answers when no API key is set: a tool call, then the answer. */
export function demo(server: FakeClaudeServer): void {
  server.enqueue(
    streamReply(toolUseMessage('get_weather', { city: 'Lyon' }, { usage: { input_tokens: 40, output_tokens: 12 } })),
    streamReply(textMessage('It is sunny in Lyon, 21 °C.', { usage: { input_tokens: 70, output_tokens: 11 } }), {
      delayMs: 10,
    }),
  );
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
