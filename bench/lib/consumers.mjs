// The consumers under test: each sends one streaming request for `model` to the fake server and drains the answer
// the way a user of that layer would, resolving to how many items it saw (a sanity check, not a measure).
import Anthropic from '@anthropic-ai/sdk';
import { createRequire } from 'node:module';
import { dist, distCjs } from './paths.mjs';

const require = createRequire(import.meta.url);
let cjs = false;

/** Which of claude-rx's builds the consumers load: `esm` through `import()` (the default), or `cjs` through `require()`. */
export function loadThrough(load) {
  if (load !== 'esm' && load !== 'cjs') throw new Error(`unknown load path ${load}`);
  cjs = load === 'cjs';
}

// Loaded only by the consumers that need them, so that each process holds just the layer it measures.
const loadBuild = async (path) => (cjs ? require(distCjs(path)) : import(dist(path)));
const rx = () => loadBuild('lib/index.js');
const nest = () => loadBuild('nest-module/index.js');

const MAX_TOKENS = 64_000;
const params = (model) => ({ model, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'Go' }] });

/** Subscribes, counts the values, resolves on complete. */
const drain = (observable, onValue) =>
  new Promise((resolve, reject) => {
    let n = 0;
    observable.subscribe({
      next: onValue ? (value) => (onValue(value), n++) : () => n++,
      error: reject,
      complete: () => resolve(n),
    });
  });

/** The floor: fetch, a minimal SSE frame splitter, JSON.parse of each `data:` line. */
async function fetchSse(ctx, model) {
  const response = await fetch(`${ctx.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'bench', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ ...params(model), stream: true }),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const decoder = new TextDecoder();
  let rest = '';
  let n = 0;
  for await (const chunk of response.body) {
    const buffer = rest + decoder.decode(chunk, { stream: true });
    let start = 0;
    let end;
    while ((end = buffer.indexOf('\n\n', start)) >= 0) {
      const data = buffer.indexOf('data: ', start);
      if (data >= 0 && data < end) {
        JSON.parse(buffer.slice(data + 6, end));
        n++;
      }
      start = end + 2;
    }
    rest = buffer.slice(start);
  }
  return n;
}

async function sdkRaw(ctx, model) {
  const stream = await ctx.client.messages.create({ ...params(model), stream: true });
  let n = 0;
  for await (const event of stream) if (event) n++;
  return n;
}

async function sdkFinalMessage(ctx, model) {
  const message = await ctx.client.messages.stream(params(model)).finalMessage();
  return message.content.length;
}

/** `messages.stream()` with an `inputJson` listener, which hands over the parsed partial input on every delta. */
async function sdkInputJson(ctx, model) {
  let n = 0;
  const stream = ctx.client.messages.stream(params(model)).on('inputJson', (_delta, snapshot) => {
    if (snapshot !== undefined) n++;
  });
  await stream.finalMessage();
  return n;
}

/** A claude-rx consumer: `claudeStream(client, params)` piped through the operators `operators(claudeRx)` makes. */
const rxConsumer = (operators, onValue) => {
  let lib;
  let ops;
  return async (ctx, model) => {
    if (!lib) {
      lib = await rx();
      ops = await operators(lib);
    }
    return drain(lib.claudeStream(ctx.client, params(model)).pipe(...ops), onValue);
  };
};

const rxAll = rxConsumer(() => []);
const rxTextOnly = rxConsumer((lib) => [lib.textOnly()]);
const rxAccumulate = rxConsumer((lib) => [lib.accumulateMessage()]);
const rxFinal = rxConsumer((lib) => [lib.finalMessage()]);
const rxToSse = rxConsumer(async () => [(await nest()).toSse()]);

/** `accumulateMessage()`, reading the tool's partial input from every snapshot, as the SDK's listener gets it. */
const rxAccumulateInput = rxConsumer(
  (lib) => [lib.accumulateMessage()],
  (message) => {
    const block = message.content.at(-1);
    if (block?.type === 'tool_use' && block.input === undefined) throw new Error('no input');
  },
);

/** `toolInputs()`: a progress item (with the partial input) per delta, then the complete input. */
const rxToolInputs = rxConsumer(
  (lib) => [lib.toolInputs()],
  (item) => {
    if (!item.done && item.partial === undefined && item.json.length > 20) throw new Error('no partial input');
  },
);

/**
 * Registers OpenTelemetry providers in this consumer's process, as an app's setup does: a meter provider whose
 * reader never exports during the run, and (with `traces`) a tracer provider whose spans go nowhere. Once per process.
 */
let telemetryOn = false;
async function registerTelemetry({ traces }) {
  if (telemetryOn) return;
  telemetryOn = true;
  const api = await import('@opentelemetry/api');
  const sdkMetrics = await import('@opentelemetry/sdk-metrics');
  const reader = new sdkMetrics.PeriodicExportingMetricReader({
    exporter: new sdkMetrics.InMemoryMetricExporter(sdkMetrics.AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  api.metrics.setGlobalMeterProvider(new sdkMetrics.MeterProvider({ readers: [reader] }));
  if (traces) {
    const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const dropped = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
    api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(dropped)] }));
  }
}

/** `consumer`, with OpenTelemetry providers registered in its process first. */
const withTelemetry = (consumer, options) => async (ctx, model) => {
  await registerTelemetry(options);
  return consumer(ctx, model);
};

let langchain;
async function langChain(ctx, model) {
  langchain ??= await import('@langchain/anthropic');
  const chat = new langchain.ChatAnthropic({
    model,
    maxTokens: MAX_TOKENS,
    apiKey: 'bench',
    anthropicApiUrl: ctx.url,
    maxRetries: 0,
    ...(model.startsWith('bench:thinking') ? { thinking: { type: 'enabled', budget_tokens: 32_000 } } : {}),
  });
  let n = 0;
  for await (const chunk of await chat.stream([['user', 'Go']])) if (chunk) n++;
  return n;
}

let vercel;
async function vercelAi(ctx, model) {
  vercel ??= { ...(await import('ai')), ...(await import('@ai-sdk/anthropic')) };
  const provider = vercel.createAnthropic({ apiKey: 'bench', baseURL: `${ctx.url}/v1` });
  const result = vercel.streamText({
    model: provider(model),
    prompt: 'Go',
    maxOutputTokens: MAX_TOKENS,
    maxRetries: 0,
    ...(model.startsWith('bench:thinking')
      ? { providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 32_000 } } } }
      : {}),
    onError: () => {},
  });
  let n = 0;
  for await (const part of result.fullStream) {
    if (part.type === 'error') throw part.error;
    n++;
  }
  return n;
}

/** Every consumer, by the name the tables use. */
export const consumers = {
  'fetch + SSE parse + JSON.parse': fetchSse,
  'SDK raw stream': sdkRaw,
  'SDK messages.stream() + finalMessage()': sdkFinalMessage,
  'SDK messages.stream() + inputJson listener': sdkInputJson,
  'claudeStream (all events)': rxAll,
  'claudeStream | textOnly()': rxTextOnly,
  'claudeStream | accumulateMessage()': rxAccumulate,
  'claudeStream | finalMessage()': rxFinal,
  'claudeStream | toSse()': rxToSse,
  'claudeStream | accumulateMessage(), input read': rxAccumulateInput,
  'claudeStream | toolInputs()': rxToolInputs,
  'claudeStream, metrics on': withTelemetry(rxAll, { traces: false }),
  'claudeStream, metrics and traces on': withTelemetry(rxAll, { traces: true }),
  'SDK raw stream, traces on': withTelemetry(sdkRaw, { traces: true }),
  'LangChain.js ChatAnthropic.stream': langChain,
  'Vercel AI SDK streamText': vercelAi,
};

export function clientFor(url) {
  return new Anthropic({ apiKey: 'bench', baseURL: url, maxRetries: 0 });
}
