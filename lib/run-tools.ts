import { APIUserAbortError } from '@anthropic-ai/sdk';
import { defer, Observable } from 'rxjs';
import { claudeStream } from './claude-stream.js';
import { RunToolsTracing } from './telemetry/run-tools-tracing.js';
import { onAbort } from './internal/abort-listeners.js';
import { deepFrozenCopy } from './internal/deep-frozen-copy.js';
import { show } from './internal/show.js';
import { prepareTools } from './tools/prepare-tools.js';
import type { ToolDefinition } from './tools/runnable-tool.js';
import { turnLoop } from './tools/turn-loop.js';
import type {
  ClaudeBetaClient,
  ClaudeBetaStreamEvent,
  ClaudeBetaStreamParams,
  ClaudeClient,
  ClaudeRequestOptions,
  ClaudeRxEvent,
  ClaudeStreamEvent,
  ClaudeStreamParams,
} from './types.js';
import type Anthropic from '@anthropic-ai/sdk';

/** Options of `runTools`. */
export interface RunToolsOptions {
  /**
   * The tools Claude may call, added to `params.tools` (which may hold server tools such as web search): each in
   * `defineTool`'s shape (`inputSchema`: a JSON schema or a Standard Schema such as zod) or in the API's
   * (`input_schema`), with its `run`.
   */
  readonly tools: readonly ToolDefinition[];
  /**
   * The most requests one run makes. A model still calling tools (or pausing, `pause_turn`) after that many turns
   * ends the run with `MaxTurnsExceededError`.
   * @defaultValue 10
   */
  readonly maxTurns?: number;
  /** How many tool calls of one turn run at the same time. @defaultValue Infinity (all at once) */
  readonly concurrency?: number;
  /**
   * Applied to each request's events, e.g. `retryOnRateLimit()` and `timeoutBetweenChunks()`, so that a retry or a
   * timeout concerns one request, not the whole conversation. Given the request's events and its turn.
   * @defaultValue none
   */
  readonly perRequest?: (
    events: Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent>,
    turn: number,
  ) => Observable<ClaudeRxEvent>;
  /**
   * Aborts the run: the request or the tools in progress are aborted, and the Observable fails as `claudeStream` does
   * for its caller's signal: the SDK's `APIUserAbortError` (before a response, between turns or while tools run), or
   * `IncompleteStreamError` with it as `cause` and the partial message (mid-stream).
   * @defaultValue none
   */
  readonly signal?: AbortSignal;
  /**
   * SDK options for every request (`headers`, `timeout`, `maxRetries`, `middleware`...), or a function that gives
   * them for each request as it is sent: called with the turn before every attempt, a `perRequest` retry's included
   * (e.g. to share one retry budget between the SDK and the retry operator).
   * @defaultValue none
   */
  readonly requestOptions?:
    Omit<ClaudeRequestOptions, 'signal'> | ((turn: number) => Omit<ClaudeRequestOptions, 'signal'> | undefined);
}

/** What `runTools` emits: every stream event of every turn, unchanged, and the `RunToolsMarker`s between them. */
export type RunToolsEvent = ClaudeRxEvent;

const DEFAULT_MAX_TURNS = 10;

function checkOptions(options: RunToolsOptions): Required<Pick<RunToolsOptions, 'maxTurns' | 'concurrency'>> {
  if (options === null || typeof options !== 'object') throw new TypeError('runTools: options must be an object');
  const { maxTurns = DEFAULT_MAX_TURNS, concurrency = Infinity, perRequest, signal } = options;
  if (!Number.isInteger(maxTurns) || maxTurns < 1) {
    throw new TypeError(`runTools: maxTurns must be a positive integer, got ${show(maxTurns)}`);
  }
  if (concurrency !== Infinity && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new TypeError(`runTools: concurrency must be a positive integer or Infinity, got ${show(concurrency)}`);
  }
  if (perRequest !== undefined && typeof perRequest !== 'function') {
    throw new TypeError(`runTools: perRequest must be a function, got ${show(perRequest)}`);
  }
  if (
    options.requestOptions !== undefined &&
    (options.requestOptions === null ||
      (typeof options.requestOptions !== 'object' && typeof options.requestOptions !== 'function'))
  ) {
    throw new TypeError(
      `runTools: requestOptions must be an object or a function, got ${show(options.requestOptions)}`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError('runTools: signal must be an AbortSignal');
  }
  return { maxTurns, concurrency };
}

/**
 * Streams a whole tool-use conversation: every token of every turn, the tools run as Claude calls them, until Claude
 * answers without calling a tool.
 *
 * Each turn is one `claudeStream` request carrying the whole conversation so far. Its events pass through unchanged
 * (the SDK's objects), framed by markers: `turn_start` before the request, `turn_end` with the complete message
 * after its `message_stop`. When that message stops with `tool_use`, its tool calls run (up to `concurrency` at a
 * time) and each result is emitted as a `tool_result` event as it comes; then the next turn sends the conversation
 * with the assistant message as it arrived (thinking blocks with their signatures, redacted thinking, tool calls
 * with their parsed input: what the SDK's `finalMessage()` gives) and a user message of the `tool_result` blocks, in
 * the order of the calls. A `pause_turn` stop (a server tool paused) carries on the same way, without tool results.
 *
 * Tool calls never break the stream. An unknown tool, an input its schema rejects, or a tool that throws, rejects
 * or errors becomes an `is_error` tool result whose text the model reads (so keep secrets out of error messages).
 * A tool call whose input is not JSON at all ends the run with `ToolInputParseError`, before any tool runs, as the
 * SDK's stream fails on it.
 *
 * The stream events are the SDK's, so the operators of claude-rx work on the whole run: `textOnly()` gives the
 * text of every turn, `accumulateMessage()` starts a new message at each `message_start`, and `toSse()` forwards
 * the markers as SSE events named after their type (`RunToolsEvent` is `ClaudeRxEvent`, which every operator
 * accepts). `withTurn()` pairs each event with its turn; `finalConversation()` gives the whole conversation at the
 * end.
 *
 * - next: `turn_start`, the turn's stream events (and `stream_restart` markers of a `perRequest` retry),
 *   `turn_end`, then one `tool_result` per tool call; again per turn;
 * - complete: after the `turn_end` of a message that calls no tool;
 * - error: what a request fails with (as `claudeStream` and the `perRequest` operators report it);
 *   `MaxTurnsExceededError` (with `.messages`) when the model still calls tools after `maxTurns` requests;
 *   `ToolInputParseError`; for the caller's `signal`, what `claudeStream` reports for its own;
 * - unsubscribe: aborts the request in progress and every running tool (their `signal` fires); no request follows.
 *
 * `params` and `options` are never mutated. Options are checked at once: a `TypeError` names a bad one (a tool
 * without `run`, two tools of the same name, a schema that is not of `type: 'object'`, a tool of neither shape...).
 *
 * @param client Any Claude client (`Anthropic` or a platform's); with `betas` in `params`, each turn goes through
 *   `client.beta.messages`.
 * @param params The first request's body, without `stream`: `messages` is where the conversation starts; `tools`
 *   may hold server tools, to which `options.tools` are added.
 * @param options The tools, and `maxTurns`, `concurrency`, `perRequest`, `signal`, `requestOptions`.
 * @returns A cold Observable: each subscription runs the conversation anew.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { defineTool, retryOnRateLimit, runTools } from 'claude-rx';
 *
 * const getWeather = defineTool<{ city: string }>({
 *   name: 'get_weather',
 *   description: 'The current weather in a city.',
 *   inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
 *   run: ({ city }) => `${city}: sunny, 21 °C`,
 * });
 *
 * runTools(
 *   new Anthropic(),
 *   { model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Weather in Paris?' }] },
 *   { tools: [getWeather], perRequest: (events) => events.pipe(retryOnRateLimit()) },
 * ).subscribe((event) => {
 *   if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') process.stdout.write(event.delta.text);
 *   if (event.type === 'tool_result') console.log(`\n[${event.name}] ${JSON.stringify(event.result.content)}`);
 * });
 * ```
 */
export function runTools(
  client: ClaudeBetaClient,
  params: ClaudeBetaStreamParams,
  options: RunToolsOptions,
): Observable<RunToolsEvent>;
export function runTools(
  client: ClaudeClient,
  params: ClaudeStreamParams,
  options: RunToolsOptions,
): Observable<RunToolsEvent>;
export function runTools(
  client: ClaudeClient | ClaudeBetaClient,
  params: ClaudeStreamParams | ClaudeBetaStreamParams,
  options: RunToolsOptions,
): Observable<RunToolsEvent> {
  const { maxTurns, concurrency } = checkOptions(options);
  if (params === null || typeof params !== 'object' || !Array.isArray(params.messages)) {
    throw new TypeError('runTools: params must be request parameters with a messages array');
  }
  const { perRequest, signal, requestOptions } = options;
  const serverTools = (params.tools ?? []) as readonly Anthropic.Messages.ToolUnion[];
  const tools = prepareTools(options.tools, serverTools);
  // Beta params keep their betas and go through `client.beta.messages`, as with `claudeStream`.
  const body = {
    ...params,
    tools: [...serverTools, ...[...tools.values()].map((tool) => tool.definition)],
  } as ClaudeStreamParams;
  // One `claudeStream` overload or the other, by the params (both send what `body` holds).
  const stream = claudeStream as (
    client: ClaudeClient | ClaudeBetaClient,
    params: ClaudeStreamParams,
    options?: ClaudeRequestOptions,
  ) => Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent>;
  // Fails now, as `claudeStream` would at each turn, for a client that cannot send these params.
  stream(client, { ...body, messages: [] });
  // A beta conversation is kept by shape: its messages go back to the beta API as they came.
  const firstMessages = deepFrozenCopy(params.messages as Anthropic.Messages.MessageParam[]);
  // Each request takes the caller's signal, so that an abort mid-request fails exactly as `claudeStream` does.
  const withSignal = (own: Omit<ClaudeRequestOptions, 'signal'> | undefined): ClaudeRequestOptions | undefined =>
    signal ? { ...own, signal } : own;
  const request = (
    messages: Anthropic.Messages.MessageParam[],
    turn: number,
  ): Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent> =>
    typeof requestOptions === 'function'
      ? // Deferred, so that the function is asked again for each attempt of a `perRequest` retry.
        defer(() => stream(client, { ...body, messages }, withSignal(requestOptions(turn))))
      : stream(client, { ...body, messages }, withSignal(requestOptions));

  return new Observable<RunToolsEvent>((subscriber) => {
    if (signal?.aborted) {
      subscriber.error(new APIUserAbortError());
      return;
    }
    // The run's span, each turn's request sent in its context, and a span per tool call (no-ops without a provider).
    const tracing = RunToolsTracing.start(client, params);
    let requestsOpen = 0;
    const counted = (events: Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent>) =>
      new Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent>((inner) => {
        requestsOpen += 1;
        const subscription = tracing ? tracing.inRun(() => events.subscribe(inner)) : events.subscribe(inner);
        return () => {
          requestsOpen -= 1;
          subscription.unsubscribe();
        };
      });
    // While a request is open, its own link to the signal fails it (as `claudeStream` reports); otherwise (tools
    // running, between turns) the run fails here. Erroring runs the teardown, which aborts what is in progress.
    const unlinkSignal = signal
      ? onAbort(signal, () => {
          if (requestsOpen === 0) subscriber.error(new APIUserAbortError());
        })
      : undefined;
    const subscription = turnLoop(firstMessages, {
      request: (messages, turn) => counted(request(messages, turn)),
      tools,
      maxTurns,
      concurrency,
      perRequest,
      ...(tracing ? { toolCall: (call, result$) => tracing.toolCall(call, result$) } : {}),
    }).subscribe({
      next: (event) => subscriber.next(event),
      error: (error: unknown) => {
        tracing?.end({ failure: error });
        subscriber.error(error);
      },
      complete: () => {
        tracing?.end('complete');
        subscriber.complete();
      },
    });
    return () => {
      // After an end, a no-op; before it, the subscriber left (or the signal's abort above failed the run).
      tracing?.end('canceled');
      unlinkSignal?.();
      subscription.unsubscribe();
    };
  });
}
