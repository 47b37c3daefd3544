import { Observable } from 'rxjs';
import { onAbort } from './internal/abort-listeners.js';
import { pumpEvents, type EventStreamBody } from './internal/pump-events.js';
import { show } from './internal/show.js';
import { CANCELED, CallMetrics, metered } from './telemetry/call-metrics.js';
import { isEventStream } from './wire/read-event-stream.js';
import { sdkMayRecordSpans } from './wire/sdk-traces.js';
import {
  isBetaParams,
  type ClaudeBetaClient,
  type ClaudeBetaStreamEvent,
  type ClaudeBetaStreamParams,
  type ClaudeClient,
  type ClaudeRequestOptions,
  type ClaudeStreamEvent,
  type ClaudeStreamParams,
} from './types.js';

/**
 * Streams one Messages API call as a cold Observable of its events.
 *
 * Every subscription sends its own request (`client.messages.create({ ...params, stream: true })`, or
 * `client.beta.messages.create(...)` for params with `betas`), so a retry operator makes a fresh call. Nothing is
 * sent before `subscribe`. Any Claude client works: `Anthropic`, `AnthropicBedrock`, `AnthropicVertex`,
 * `AnthropicFoundry`.
 *
 * - next: every event of the stream in order, `message_start` to `message_stop`, as the SDK types them.
 * - complete: after `message_stop`.
 * - error: the SDK's own error object for HTTP errors and mid-stream `event: error` frames
 *   (`instanceof Anthropic.RateLimitError` keeps working); `IncompleteStreamError` with `.partial` when the stream
 *   ended without `message_stop`, cleanly or by a lost connection (the original error as `.cause`), or when the
 *   caller's `options.signal` aborted it mid-stream. Before `message_start`, a caller's abort is the SDK's
 *   `APIUserAbortError`.
 * - unsubscribe: aborts the HTTP request at once, before or after the response headers; silent.
 *
 * `params` and `options` are copied, never mutated; a caller's `options.signal` is linked in and its listener
 * removed on teardown.
 *
 * @param client Any Claude client (`Anthropic` or a platform's).
 * @param params The request body, without `stream`; with `betas`, the beta API's (typed with its beta events).
 * @param options SDK request options (`signal`, `timeout`, `headers`, `maxRetries`...).
 * @returns A cold Observable of the stream's events.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { claudeStream, textOnly } from 'claude-rx';
 *
 * const client = new Anthropic();
 * claudeStream(client, {
 *   model: 'claude-sonnet-5-5',
 *   max_tokens: 1024,
 *   messages: [{ role: 'user', content: 'Tell me a story' }],
 * })
 *   .pipe(textOnly())
 *   .subscribe((text) => process.stdout.write(text));
 * ```
 */
export function claudeStream(
  client: ClaudeBetaClient,
  params: ClaudeBetaStreamParams,
  options?: ClaudeRequestOptions,
): Observable<ClaudeBetaStreamEvent>;
export function claudeStream(
  client: ClaudeClient,
  params: ClaudeStreamParams,
  options?: ClaudeRequestOptions,
): Observable<ClaudeStreamEvent>;
export function claudeStream(
  client: ClaudeClient | ClaudeBetaClient,
  params: ClaudeStreamParams | ClaudeBetaStreamParams,
  options?: ClaudeRequestOptions,
): Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent> {
  const send = requestFor(client, params);
  return new Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent>((subscriber) => {
    const controller = new AbortController();
    const callerSignal = options?.signal ?? undefined;
    let unlinkCaller = () => {};
    if (callerSignal?.aborted) controller.abort(callerSignal.reason);
    // One listener per caller signal, however many streams share it (see `onAbort`).
    else if (callerSignal) unlinkCaller = onAbort(callerSignal, () => controller.abort(callerSignal.reason));

    // The GenAI client metrics of this request, when the app records metrics (else nothing is measured).
    const metrics = CallMetrics.start(client, params);

    let bodyRead = false;
    void pumpEvents(
      metrics ? metered(subscriber, metrics) : subscriber,
      // Called here, not earlier: the SDK sends the request as soon as `create` is called.
      () => openStream(client, send({ ...options, signal: controller.signal })),
      () => callerSignal?.aborted === true,
      () => (bodyRead = true),
    );

    return () => {
      // After an end, a no-op; before it, the subscriber left: a canceled request.
      metrics?.end(CANCELED);
      unlinkCaller();
      // A response read to its end is over: nothing to abort. Anything else (the subscriber left, an error) aborts.
      if (!bodyRead) controller.abort();
    };
  });
}

type StreamEvents = AsyncIterable<ClaudeStreamEvent | ClaudeBetaStreamEvent>;

/** What `create({ stream: true })` returns: a promise of the SDK's stream, and (the SDK's `APIPromise`) its response. */
type StreamRequest = Promise<StreamEvents> & {
  readonly withResponse?: () => Promise<{ readonly data: StreamEvents; readonly response: Response }>;
};

type Send = (options: ClaudeRequestOptions) => StreamRequest;

/**
 * The request's events: its body read by claude-rx (`readEventStream`: one await per network read, every event of it
 * delivered at once) when the SDK hands over a Server-Sent Events body and records no span for it; else the SDK's
 * own stream. The SDK has built, authenticated and sent the request, retried it before the headers and mapped an HTTP
 * error either way. A span the SDK records needs the SDK to read the body (its usage, its end); and a body that is
 * not SSE (Bedrock's binary event stream) is the SDK's to decode.
 */
async function openStream(client: object, request: StreamRequest): Promise<StreamEvents | EventStreamBody> {
  if (typeof request.withResponse !== 'function' || sdkMayRecordSpans(client)) return request;
  const { data, response } = await request.withResponse();
  if (!isEventStream(response)) return data;
  // Errors are logged as the SDK logs them: to the client's logger, unless its `logLevel` is `off`.
  const { logger, logLevel } = client as { logger?: EventStreamBody['logger']; logLevel?: unknown };
  if (logLevel === 'off') return { response, logger: undefined };
  return { response, logger: typeof logger?.error === 'function' ? logger : console };
}

/**
 * How to send `params`: through `client.beta.messages` when they carry `betas`, else `client.messages`. Checked at
 * once, so that a client without what the params need is a `TypeError` at the call, not at subscribe.
 */
function requestFor(
  client: ClaudeClient | ClaudeBetaClient,
  params: ClaudeStreamParams | ClaudeBetaStreamParams,
): Send {
  if (params === null || typeof params !== 'object') {
    throw new TypeError(`claudeStream: params must be an object of request parameters, got ${show(params)}`);
  }
  if (isBetaParams(params)) {
    const beta = (client as Partial<ClaudeBetaClient> | null)?.beta?.messages;
    if (typeof beta?.create !== 'function') {
      throw new TypeError(
        'claudeStream: params with betas need a client with beta.messages.create (e.g. new Anthropic())',
      );
    }
    return (options) => beta.create({ ...params, betas: [...params.betas], stream: true }, options);
  }
  const messages = (client as Partial<ClaudeClient> | null)?.messages;
  if (typeof messages?.create !== 'function') {
    throw new TypeError('claudeStream: client must be a Claude client with messages.create (e.g. new Anthropic())');
  }
  return (options) => messages.create({ ...params, stream: true }, options);
}
