import type * as OpenTelemetryApi from '@opentelemetry/api';

/** `@opentelemetry/api`, the optional peer through which claude-rx records; `undefined` until loaded, or when absent. */
let api: typeof OpenTelemetryApi | undefined;
/** The import has settled: `api` is what there is. */
let settled = false;

/**
 * Loads `@opentelemetry/api` once, if the app has it. A dynamic import, so that claude-rx loads without it, from ESM and
 * CommonJS alike; it settles in the first ticks of the process, long before a stream is sent. The API keeps its
 * providers in a global, so this copy sees what the app registers, from whichever copy it used.
 */
export const openTelemetryLoaded: Promise<void> = import('@opentelemetry/api').then(
  (loaded: unknown) => {
    // A CommonJS build imported from ESM may come as its `default`.
    const module = loaded as Partial<typeof OpenTelemetryApi> & { readonly default?: typeof OpenTelemetryApi };
    api = module.metrics ? (module as typeof OpenTelemetryApi) : module.default;
    settled = true;
  },
  () => {
    settled = true;
  },
);

/** `@opentelemetry/api` when it is loaded; `undefined` without it (nothing is recorded). */
export function openTelemetry(): typeof OpenTelemetryApi | undefined {
  return api;
}

/** Whether the import of `@opentelemetry/api` has settled (loaded, or found absent). */
export function openTelemetrySettled(): boolean {
  return settled;
}
