import { context, metrics, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { openTelemetryLoaded } from '../../../lib/telemetry/open-telemetry.js';

// The real OpenTelemetry SDK, installed the way an app's SDK setup registers it: global providers and an
// AsyncLocalStorage context manager. Every installer has an `uninstall` that disables the globals and shuts the
// providers down, or jest waits on their handles.

/** A reader that collects on demand, each collection holding only what was recorded since the previous one. */
class DeltaReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** One histogram of a collection: its unit and data points. */
export interface HistogramData {
  readonly unit: string;
  readonly points: readonly DataPoint<Histogram>[];
}

/** The histograms of claude-rx's meter recorded between two collections, by instrument name. */
export class Measurements {
  constructor(private readonly histograms: ReadonlyMap<string, HistogramData>) {}

  /** Names of the instruments that have data points. */
  get names(): string[] {
    return [...this.histograms.keys()].sort();
  }

  /** The data points of `name` (none when it recorded nothing). */
  points(name: string): readonly DataPoint<Histogram>[] {
    return this.histograms.get(name)?.points ?? [];
  }

  /** The unit `name` was recorded in. */
  unit(name: string): string | undefined {
    return this.histograms.get(name)?.unit;
  }

  /** How many values `name` recorded, over the data points whose attributes include `attributes`. */
  count(name: string, attributes: Attributes = {}): number {
    return this.matching(name, attributes).reduce((sum, point) => sum + point.value.count, 0);
  }

  /** The sum of the values `name` recorded, over the data points whose attributes include `attributes`. */
  sum(name: string, attributes: Attributes = {}): number {
    return this.matching(name, attributes).reduce((sum, point) => sum + (point.value.sum ?? 0), 0);
  }

  /** The data points of `name` whose attributes include `attributes`. */
  matching(name: string, attributes: Attributes): readonly DataPoint<Histogram>[] {
    return this.points(name).filter((point) =>
      Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
    );
  }
}

/** A meter provider registered as the global one. */
export interface InstalledMeterProvider {
  /** What was recorded since the previous call (or the install). */
  collect(): Promise<Measurements>;
  uninstall(): Promise<void>;
}

/** Registers a real `MeterProvider` as the global one, now. */
export async function installMeterProvider(): Promise<InstalledMeterProvider> {
  await openTelemetryLoaded;
  const reader = new DeltaReader();
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
  return {
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
      const histograms = new Map<string, HistogramData>();
      for (const scope of resourceMetrics.scopeMetrics) {
        if (scope.scope.name !== 'claude-rx') continue;
        for (const metric of scope.metrics) {
          // claude-rx's meter has counters too (resumable streams); the GenAI client metrics are all histograms.
          if (metric.dataPointType !== DataPointType.HISTOGRAM) {
            if (metric.descriptor.name.startsWith('gen_ai.'))
              throw new Error(`${metric.descriptor.name}: no histogram`);
            continue;
          }
          if (metric.dataPoints.length === 0) continue;
          histograms.set(metric.descriptor.name, { unit: metric.descriptor.unit, points: metric.dataPoints });
        }
      }
      return new Measurements(histograms);
    },
    async uninstall() {
      metrics.disable();
      await provider.shutdown();
    },
  };
}

/** Registers a real meter provider for the spec file; `collect()` drains what was recorded. */
export function useMeterProvider(): { collect(): Promise<Measurements> } {
  let installed: InstalledMeterProvider | undefined;
  beforeAll(async () => {
    installed = await installMeterProvider();
  });
  // A test starts from nothing: what an earlier one recorded late is dropped here.
  beforeEach(async () => {
    await installed!.collect();
  });
  afterAll(async () => installed?.uninstall());
  return { collect: () => installed!.collect() };
}

/** The spans a tracer provider finished. */
export interface Tracing {
  /** Every finished span so far, in the order they ended. */
  spans(): readonly ReadableSpan[];
  /** The finished spans named `name`. */
  named(name: string): readonly ReadableSpan[];
  /** Resolves once `count` spans named `name` have ended; rejects after a while, listing what ended. */
  waitForSpans(name: string, count: number): Promise<readonly ReadableSpan[]>;
}

/**
 * Registers a real tracer provider (every span exported as it ends) and an AsyncLocalStorage context manager for the
 * spec file, as an app's SDK setup does; clears the spans between tests.
 */
export function useTracerProvider(): Tracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(async () => {
    await openTelemetryLoaded;
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    trace.disable();
    context.disable();
    await provider.shutdown();
  });
  const named = (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name);
  return {
    spans: () => exporter.getFinishedSpans(),
    named,
    async waitForSpans(name, count) {
      await waitFor(
        () => named(name).length >= count,
        () =>
          `${count} span(s) named ${name}; ended: ${JSON.stringify(exporter.getFinishedSpans().map((s) => s.name))}`,
      );
      return named(name);
    },
  };
}

/** Polls `condition` until it holds; fails after `timeoutMs` naming what was awaited. */
export async function waitFor(condition: () => boolean, what: () => string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Every attribute and event attribute value of `spans`, as strings: to search for text that must not be there. */
export function everyRecordedString(spans: readonly ReadableSpan[]): string[] {
  const values: unknown[] = [];
  for (const span of spans) {
    values.push(span.name, span.status.message, ...Object.values(span.attributes));
    for (const event of span.events) values.push(event.name, ...Object.values(event.attributes ?? {}));
    for (const link of span.links) values.push(...Object.values(link.attributes ?? {}));
  }
  return values.filter((value) => value !== undefined).map((value) => JSON.stringify(value));
}
