import Anthropic, { type ClientOptions } from '@anthropic-ai/sdk';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Observable } from 'rxjs';
import { openTelemetryLoaded } from '../../../lib/telemetry/open-telemetry.js';
import { TEST_API_KEY, type Harness } from '../../support/harness.js';

/** How an Observable ended: what it emitted, then its error, or that it completed. */
export interface Outcome<T> {
  readonly events: T[];
  readonly error?: unknown;
  readonly completed: boolean;
}

/** Runs `source` to its end, whatever that end is. */
export function outcomeOf<T>(source: Observable<T>): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const events: T[] = [];
    source.subscribe({
      next: (event) => events.push(event),
      error: (error: unknown) => resolve({ events, error, completed: false }),
      complete: () => resolve({ events, completed: true }),
    });
  });
}

/** Whether `value` and everything in it is frozen. */
export function deeplyFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(deeplyFrozen);
}

/**
 * A tracer provider the spec registers only around what must take the SDK's path (`claudeStream` lets the SDK read
 * the body when it may record a span), and disables right after, so that everything else takes claude-rx's own
 * reader. `@opentelemetry/api` is awaited first: until it has loaded, claude-rx assumes the SDK may record.
 */
export function useSdkPath(fake: Harness): {
  readonly exporter: InMemorySpanExporter;
  readonly provider: BasicTracerProvider;
  /** Runs `run` with the tracer provider registered, on a fresh client (an SDK client caches its tracer). */
  sdkPath<T>(run: (client: Anthropic) => Promise<T>, options?: ClientOptions): Promise<T>;
  /** A fresh client of the fake server, with the SDK's retries off. */
  clientWith(options?: ClientOptions): Anthropic;
} {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const clientWith = (options: ClientOptions = {}) =>
    new Anthropic({ apiKey: TEST_API_KEY, baseURL: fake.server.url, maxRetries: 0, ...options });
  beforeAll(async () => openTelemetryLoaded);
  afterEach(() => {
    trace.disable();
    exporter.reset();
  });
  afterAll(async () => provider.shutdown());
  return {
    exporter,
    provider,
    clientWith,
    async sdkPath(run, options) {
      if (!trace.setGlobalTracerProvider(provider)) throw new Error('a tracer provider was registered already');
      try {
        return await run(clientWith(options));
      } finally {
        trace.disable();
      }
    },
  };
}

/** Every event of the SDK's own stream for one request: `for await` over `messages.create({ stream: true })`. */
export async function sdkRawStream(
  client: Anthropic,
  params: Omit<Anthropic.Messages.MessageCreateParamsStreaming, 'stream'>,
): Promise<Outcome<Anthropic.Messages.RawMessageStreamEvent>> {
  const events: Anthropic.Messages.RawMessageStreamEvent[] = [];
  try {
    const stream = await client.messages.create({ ...params, stream: true });
    for await (const event of stream) events.push(event);
    return { events, completed: true };
  } catch (error) {
    return { events, error, completed: false };
  }
}
