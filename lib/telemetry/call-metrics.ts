import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import type { EventSink } from '../internal/event-sink.js';
import type { ClaudeBetaStreamEvent, ClaudeStreamEvent } from '../types.js';
import {
  CANCELED_ERROR_TYPE,
  errorTypeOf,
  GEN_AI,
  GEN_AI_METRICS,
  providerNameOf,
  serverAttributesOf,
} from './genai-conventions.js';
import { lazyInstruments } from './lazy-instruments.js';

/** The four GenAI client histograms of one meter provider. */
interface Instruments {
  readonly tokenUsage: Histogram;
  readonly duration: Histogram;
  readonly timeToFirstChunk: Histogram;
  readonly timePerOutputChunk: Histogram;
}

function histogram(meter: Meter, spec: (typeof GEN_AI_METRICS)[keyof typeof GEN_AI_METRICS]): Histogram {
  return meter.createHistogram(spec.name, {
    unit: spec.unit,
    description: spec.description,
    advice: { explicitBucketBoundaries: [...spec.buckets] },
  });
}

/** The GenAI client histograms, of the app's meter provider at the time of each request. */
const instruments = lazyInstruments<Instruments>((meter) => ({
  tokenUsage: histogram(meter, GEN_AI_METRICS.tokenUsage),
  duration: histogram(meter, GEN_AI_METRICS.operationDuration),
  timeToFirstChunk: histogram(meter, GEN_AI_METRICS.timeToFirstChunk),
  timePerOutputChunk: histogram(meter, GEN_AI_METRICS.timePerOutputChunk),
}));

/** What `CallMetrics.end` is given when the subscriber left before the request ended. */
export const CANCELED: unique symbol = Symbol('canceled');

/**
 * The GenAI client metrics of one Messages request (one subscription of `claudeStream`): its duration, the time to
 * its first chunk and between chunks (a chunk is a `content_block_delta`, as the SDK's span counts it), and its
 * tokens (input counted as the SDK's span does: cache reads and writes included).
 */
export class CallMetrics {
  private readonly started = performance.now();
  private lastChunkAt = 0;
  /** The input counts so far; input tokens are counted as the SDK's span counts them, cache reads and writes included. */
  private input: { readonly tokens: number; readonly cacheCreation: number; readonly cacheRead: number } | undefined;
  private outputTokens: number | undefined;
  private ended = false;

  private constructor(
    private readonly instruments: Instruments,
    private attributes: Attributes,
  ) {}

  /**
   * Starts measuring a request of `client` for `params`, or returns `undefined` when nothing would record it (no
   * meter provider registered, or no `@opentelemetry/api`): a stream then pays nothing.
   */
  static start(client: object, params: { readonly model?: unknown }): CallMetrics | undefined {
    const found = instruments();
    if (!found) return undefined;
    return new CallMetrics(found, {
      [GEN_AI.operationName]: 'chat',
      [GEN_AI.providerName]: providerNameOf(client),
      ...(typeof params.model === 'string' ? { [GEN_AI.requestModel]: params.model } : {}),
      ...serverAttributesOf(client),
    });
  }

  /** Notes one event of the stream. */
  event(event: ClaudeStreamEvent | ClaudeBetaStreamEvent): void {
    switch (event.type) {
      case 'content_block_delta': {
        const now = performance.now();
        if (this.lastChunkAt === 0) this.record(this.instruments.timeToFirstChunk, now - this.started);
        else this.record(this.instruments.timePerOutputChunk, now - this.lastChunkAt);
        this.lastChunkAt = now;
        return;
      }
      case 'message_start': {
        const { model, usage } = event.message;
        // Known from here on, so that the chunk timings carry it too.
        this.attributes = { ...this.attributes, [GEN_AI.responseModel]: model };
        this.input = {
          tokens: usage.input_tokens,
          cacheCreation: usage.cache_creation_input_tokens ?? 0,
          cacheRead: usage.cache_read_input_tokens ?? 0,
        };
        // Its `output_tokens` is a placeholder: the count comes with `message_delta` (the SDK's span waits too).
        return;
      }
      case 'message_delta': {
        const { usage } = event;
        // A count the delta leaves out (null) keeps `message_start`'s, as the SDK merges them.
        const input = this.input ?? { tokens: 0, cacheCreation: 0, cacheRead: 0 };
        this.input = {
          tokens: usage.input_tokens ?? input.tokens,
          cacheCreation: usage.cache_creation_input_tokens ?? input.cacheCreation,
          cacheRead: usage.cache_read_input_tokens ?? input.cacheRead,
        };
        this.outputTokens = usage.output_tokens;
        return;
      }
      case 'content_block_start':
      case 'content_block_stop':
      case 'message_stop':
        return;
      default: {
        // An event type of a newer SDK: nothing to note.
        return;
      }
    }
  }

  /**
   * Records the request's end, once: `failure` is what it failed with, `CANCELED` when its subscriber left first,
   * `undefined` when it completed.
   */
  end(failure?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const attributes: Attributes = {
      ...this.attributes,
      ...(failure === undefined
        ? {}
        : { [GEN_AI.errorType]: failure === CANCELED ? CANCELED_ERROR_TYPE : errorTypeOf(failure) }),
    };
    this.instruments.duration.record((performance.now() - this.started) / 1000, attributes);
    if (this.input !== undefined) {
      const { tokens, cacheCreation, cacheRead } = this.input;
      this.instruments.tokenUsage.record(tokens + cacheCreation + cacheRead, {
        ...attributes,
        [GEN_AI.tokenType]: 'input',
      });
    }
    if (this.outputTokens !== undefined) {
      this.instruments.tokenUsage.record(this.outputTokens, { ...attributes, [GEN_AI.tokenType]: 'output' });
    }
  }

  private record(histogram: Histogram, milliseconds: number): void {
    histogram.record(milliseconds / 1000, this.attributes);
  }
}

/** `sink`, with each event and the end noted by `metrics` before the sink sees them. */
export function metered<T extends ClaudeStreamEvent | ClaudeBetaStreamEvent>(
  sink: EventSink<T>,
  metrics: CallMetrics,
): EventSink<T> {
  return {
    get closed() {
      return sink.closed;
    },
    next(event) {
      metrics.event(event);
      sink.next(event);
    },
    error(error) {
      metrics.end(error);
      sink.error(error);
    },
    complete() {
      metrics.end();
      sink.complete();
    },
  };
}
