import type { Meter, MeterProvider } from '@opentelemetry/api';
import { openTelemetry } from './open-telemetry.js';

/** The meter's name, so that a backend can tell claude-rx's instruments apart. */
const METER_NAME = 'claude-rx';

/**
 * Instruments made by `make` from claude-rx's meter of the global meter provider, looked up at each use rather than
 * once: the API has no proxy meter provider, so instruments made before the app registers its provider would stay
 * no-ops. The getter gives `undefined` while there is no provider (or no `@opentelemetry/api`): then nothing is
 * recorded, and nothing needs measuring.
 *
 * @example
 * ```ts
 * const counters = lazyInstruments((meter) => ({ resumed: meter.createCounter('claude_rx.streams.resumed') }));
 * counters()?.resumed.add(1);
 * ```
 */
export function lazyInstruments<T>(make: (meter: Meter) => T): () => T | undefined {
  let made: { readonly provider: MeterProvider; readonly instruments: T | undefined } | undefined;
  return () => {
    const api = openTelemetry();
    if (!api) return undefined;
    const provider = api.metrics.getMeterProvider();
    if (made?.provider === provider) return made.instruments;
    const meter = provider.getMeter(METER_NAME);
    // The API's no-op meter is what an app without a provider gets: recording into it would be work for nothing.
    const noop = meter.constructor === api.createNoopMeter().constructor;
    made = { provider, instruments: noop ? undefined : make(meter) };
    return made.instruments;
  };
}
