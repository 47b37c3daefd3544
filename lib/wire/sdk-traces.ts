import type * as OpenTelemetryApi from '@opentelemetry/api';
import { openTelemetry, openTelemetrySettled } from '../telemetry/open-telemetry.js';

/** The class of the API's no-op tracer provider: what a `ProxyTracerProvider` delegates to while none is registered. */
let noopTracerProvider: (new () => unknown) | undefined;

function isNoop(api: typeof OpenTelemetryApi, provider: OpenTelemetryApi.TracerProvider): boolean {
  const delegate = provider instanceof api.ProxyTracerProvider ? provider.getDelegate() : provider;
  noopTracerProvider ??= new api.ProxyTracerProvider().getDelegate().constructor as new () => unknown;
  return delegate.constructor === noopTracerProvider;
}

/**
 * Whether the SDK may record an `anthropic.messages.create` span for a request of `client`: its traces are on (they
 * are unless `openTelemetry: { traces: false }`) and the app registered a tracer provider. When it may, claude-rx
 * lets the SDK read the body, so that the span gets the body's usage and ends with it; the SDK's `asResponse()` would
 * end it at the headers. `true` while `@opentelemetry/api` is still loading: nothing is known yet.
 */
export function sdkMayRecordSpans(client: object): boolean {
  const settled = (
    client as { openTelemetry?: { traces?: { enabled?: unknown }; tracerProvider?: OpenTelemetryApi.TracerProvider } }
  ).openTelemetry;
  if (settled?.traces?.enabled === false) return false;
  const api = openTelemetry();
  if (!api) return !openTelemetrySettled();
  // A client may carry a tracer provider of its own (`openTelemetry: { tracerProvider }`), used over the global one.
  return !isNoop(api, settled?.tracerProvider ?? api.trace.getTracerProvider());
}
