import type Anthropic from '@anthropic-ai/sdk';
import {
  catchError,
  concat,
  defer,
  from,
  isObservable,
  last,
  map,
  mergeMap,
  Observable,
  of,
  tap,
  throwError,
  type OperatorFunction,
} from 'rxjs';
import { claudeStream } from './claude-stream.js';
import { IncompleteStreamError } from './errors.js';
import { onAbort } from './internal/abort-listeners.js';
import { deepFrozenCopy } from './internal/deep-frozen-copy.js';
import { MessageDraft } from './internal/message-draft.js';
import { rememberPartialMessage } from './internal/partial-messages.js';
import { prepareSchema, type InputCheck, type PreparedSchema, type StandardSchemaV1 } from './internal/tool-schema.js';
import { MaxTurnsExceededError } from './run-tools-errors.js';
import { isRunToolsMarker, type ToolResultEvent, type TurnEndEvent, type TurnStartEvent } from './run-tools-markers.js';
import {
  isStreamRestart,
  type ClaudeRequestOptions,
  type ClaudeRxEvent,
  type ClaudeStreamEvent,
  type ClaudeStreamParams,
} from './types.js';

export type { StandardSchemaV1 } from './internal/tool-schema.js';

type MessageParam = Anthropic.Messages.MessageParam;
type ToolResultBlockParam = Anthropic.Messages.ToolResultBlockParam;
type ToolUseBlock = Anthropic.Messages.ToolUseBlock;

/** A content block a tool may return: text, image, document, search result... (what a `tool_result` may hold). */
export type ToolResultContent = Exclude<ToolResultBlockParam['content'], string | undefined>[number];

/**
 * What a tool's `run` may produce: a string (sent as is), an array of content blocks (text, images, documents...,
 * sent as is), `undefined` (a result without content), or any other JSON value (sent as its JSON text).
 */
export type ToolOutput = string | readonly ToolResultContent[] | object | number | boolean | null | undefined;

/** What a tool's `run` is given besides its input. */
export interface ToolRunContext {
  /** Aborted when the run is unsubscribed or the caller's `signal` aborts while the tool runs. */
  readonly signal: AbortSignal;
  /** The `tool_use` block being answered (its `input` is the raw input, before schema transforms). */
  readonly toolUse: ToolUseBlock;
  /** The turn (1 for the first request) whose message called the tool. */
  readonly turn: number;
}

/**
 * A tool that `runTools` offers to Claude and runs when called.
 *
 * @example
 * ```ts
 * import type { RunnableTool } from 'claude-rx';
 *
 * const getWeather: RunnableTool = {
 *   name: 'get_weather',
 *   description: 'The current weather in a city.',
 *   inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
 *   run: async (input, { signal }) => (await fetch(`https://wttr.in/${(input as { city: string }).city}?format=3`, { signal })).text(),
 * };
 * ```
 */
export interface RunnableTool<Input = unknown> {
  /** The name Claude calls it by. */
  readonly name: string;
  /** What it does and when to use it: the model reads this. @defaultValue none */
  readonly description?: string;
  /**
   * Its input: a JSON schema of `type: 'object'` (checked by claude-rx's own validator; see `runTools` for the
   * keywords it knows), or a Standard Schema such as a zod 4 schema (checked with its own `validate`; its output,
   * with zod's transforms and defaults applied, is what `run` receives). claude-rx never imports zod itself.
   */
  readonly inputSchema: Anthropic.Messages.Tool.InputSchema | StandardSchemaV1<unknown, Input>;
  /**
   * The JSON schema sent as the tool's `input_schema`, when it should not be derived from `inputSchema`: needed for
   * a Standard Schema without a JSON Schema converter (zod before 4.2: pass `z.toJSONSchema(schema)`).
   * @defaultValue derived from `inputSchema`
   */
  readonly jsonSchema?: Anthropic.Messages.Tool.InputSchema;
  /**
   * Runs the tool on a valid input (frozen when checked by a JSON schema: it is also part of the conversation).
   * Returns the output, a Promise of it, or an Observable (its last value is the output; unsubscribed if the run
   * is). A throw, a rejection or an error becomes an `is_error` result.
   */
  run(input: Input, context: ToolRunContext): ToolOutput | PromiseLike<ToolOutput> | Observable<ToolOutput>;
}

/** The output type of a Standard Schema, as its `~standard.types` declares it. */
type SchemaOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output'];

/**
 * Types a tool's `run` input from its schema: the output type of a Standard Schema (zod...), or the type you name
 * for a JSON schema. It returns the tool unchanged.
 *
 * @param tool The tool.
 * @returns The same tool, typed.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineTool } from 'claude-rx';
 *
 * const getWeather = defineTool({
 *   name: 'get_weather',
 *   description: 'The current weather in a city.',
 *   inputSchema: z.object({ city: z.string(), unit: z.enum(['C', 'F']).default('C') }),
 *   run: ({ city, unit }) => `${city}: 21 °${unit}`, // typed { city: string; unit: 'C' | 'F' }
 * });
 * ```
 */
export function defineTool<S extends StandardSchemaV1>(
  tool: RunnableTool<SchemaOutput<S>> & { readonly inputSchema: S },
): RunnableTool<SchemaOutput<S>>;
export function defineTool<Input = Record<string, unknown>>(
  tool: RunnableTool<Input> & { readonly inputSchema: Anthropic.Messages.Tool.InputSchema },
): RunnableTool<Input>;
export function defineTool(tool: RunnableTool): RunnableTool {
  return tool;
}

/** Options of `runTools`. */
export interface RunToolsOptions {
  /** The tools Claude may call, added to `params.tools` (which may hold server tools such as web search). */
  readonly tools: readonly RunnableTool[];
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
  readonly perRequest?: (events: Observable<ClaudeStreamEvent>, turn: number) => Observable<ClaudeRxEvent>;
  /**
   * Aborts the run: the request or the tools in progress are aborted and the Observable errors with the signal's
   * `reason`.
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

/** What `withTurn()` emits: an event of `runTools` and the turn it belongs to. */
export interface EventWithTurn {
  /** 1 for the first request. */
  readonly turn: number;
  readonly event: RunToolsEvent;
}

/**
 * Pairs each event of `runTools` with its turn: the stream events with that of the `turn_start` before them, the
 * markers with their own.
 *
 * - next: `{ turn, event }` per event; error, complete, unsubscribe: the source's.
 *
 * @returns An operator from `runTools` events to `{ turn, event }`.
 *
 * @example
 * ```ts
 * import { runTools, withTurn } from 'claude-rx';
 *
 * runTools(client, params, { tools })
 *   .pipe(withTurn())
 *   .subscribe(({ turn, event }) => console.log(turn, event.type));
 * ```
 */
export function withTurn(): OperatorFunction<RunToolsEvent, EventWithTurn> {
  return (source) =>
    defer(() => {
      let current = 0;
      return source.pipe(
        map((event) => {
          if (isRunToolsMarker(event)) current = event.turn;
          return { turn: current, event };
        }),
      );
    });
}

/**
 * Waits for the end of a `runTools` conversation and emits all its messages once: the request's, then every
 * assistant turn and every user turn of tool results, ending with the last assistant message.
 *
 * - next: the conversation (frozen), once, when the source completes (nothing if no turn ended);
 * - error: the source's (`MaxTurnsExceededError` carries the conversation as `.messages`);
 * - unsubscribe: unsubscribes the source, which aborts the request or tools in progress.
 *
 * @returns An operator from `runTools` events to the final conversation.
 *
 * @example
 * ```ts
 * import { lastValueFrom } from 'rxjs';
 * import { finalMessages, runTools } from 'claude-rx';
 *
 * const messages = await lastValueFrom(runTools(client, params, { tools }).pipe(finalMessages()));
 * console.log(messages.at(-1)?.content);
 * ```
 */
export function finalMessages(): OperatorFunction<RunToolsEvent, readonly MessageParam[]> {
  return (source) =>
    new Observable<readonly MessageParam[]>((subscriber) => {
      let messages: readonly MessageParam[] | undefined;
      const subscription = source.subscribe({
        next(event) {
          if (event.type === 'turn_end') messages = event.messages;
        },
        error: (error: unknown) => subscriber.error(error),
        complete() {
          if (messages) subscriber.next(messages);
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        messages = undefined;
      };
    });
}

interface PreparedTool {
  readonly tool: RunnableTool;
  readonly schema: PreparedSchema;
}

const DEFAULT_MAX_TURNS = 10;

/** `type`s of the content blocks a tool may return; a `Record` so that the compiler lists every kind. */
const RESULT_BLOCK_TYPES: ReadonlySet<string> = new Set(
  Object.keys({
    text: true,
    image: true,
    document: true,
    search_result: true,
    tool_reference: true,
    browser_state: true,
  } satisfies Record<ToolResultContent['type'], true>),
);

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return `a value of type ${typeof value}`;
}

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

function prepareTools(tools: unknown, serverTools: readonly Anthropic.Messages.ToolUnion[]): Map<string, PreparedTool> {
  if (!Array.isArray(tools)) throw new TypeError('runTools: tools must be an array of tools');
  const taken = new Set(serverTools.map((tool) => ('name' in tool ? tool.name : undefined)));
  const prepared = new Map<string, PreparedTool>();
  for (const tool of tools as unknown[]) {
    if (typeof tool !== 'object' || tool === null) throw new TypeError('runTools: each tool must be an object');
    const { name, run, inputSchema, jsonSchema, description } = tool as Partial<RunnableTool>;
    if (typeof name !== 'string' || name === '') throw new TypeError('runTools: each tool needs a name');
    if (typeof run !== 'function') throw new TypeError(`runTools: tool ${JSON.stringify(name)} needs a run function`);
    if (description !== undefined && typeof description !== 'string') {
      throw new TypeError(`runTools: tool ${JSON.stringify(name)}: description must be a string`);
    }
    if (taken.has(name) || prepared.has(name)) {
      throw new TypeError(`runTools: two tools are named ${JSON.stringify(name)}`);
    }
    prepared.set(name, { tool: tool as RunnableTool, schema: prepareSchema(name, inputSchema, jsonSchema) });
  }
  return prepared;
}

function definitionOf(tool: RunnableTool, schema: PreparedSchema): Anthropic.Messages.Tool {
  return {
    name: tool.name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    input_schema: schema.jsonSchema as Anthropic.Messages.Tool.InputSchema,
  };
}

/** The `content` of a tool result for what `run` produced; throws when it cannot be sent. */
function contentOf(output: unknown): ToolResultBlockParam['content'] {
  if (output === undefined || typeof output === 'string') return output;
  if (
    Array.isArray(output) &&
    output.length > 0 &&
    output.every(
      (item) =>
        typeof item === 'object' && item !== null && RESULT_BLOCK_TYPES.has(String((item as { type?: unknown }).type)),
    )
  ) {
    return output as ToolResultContent[];
  }
  const json = JSON.stringify(output);
  if (json === undefined) throw new TypeError(`the tool returned ${show(output)}, which has no JSON form`);
  return json;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message === '' ? error.name : `${error.name}: ${error.message}`;
  return String(error);
}

/** Gives `factory` a signal that aborts when the subscriber unsubscribes before the Observable has ended. */
function withAbortSignal<T>(factory: (signal: AbortSignal) => Observable<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const controller = new AbortController();
    let ended = false;
    const subscription = factory(controller.signal).subscribe({
      next: (value) => subscriber.next(value),
      error(error: unknown) {
        ended = true;
        subscriber.error(error);
      },
      complete() {
        ended = true;
        subscriber.complete();
      },
    });
    return () => {
      subscription.unsubscribe();
      if (!ended) controller.abort();
    };
  });
}

function isToolUse(block: Anthropic.Messages.ContentBlock): block is ToolUseBlock {
  return block.type === 'tool_use';
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
 * A JSON `inputSchema` is checked by a small validator that knows `type` (`integer` too), `enum`, `const`,
 * `properties`, `required`, `additionalProperties`, `items`, `min`/`maxItems`, `min`/`maxLength`, `pattern`,
 * `minimum`/`maximum` (and their exclusive forms), `anyOf`, `oneOf` and `allOf`, and ignores the other keywords.
 *
 * The stream events are the SDK's, so the operators of claude-rx work on the whole run: `textOnly()` gives the
 * text of every turn, `accumulateMessage()` starts a new message at each `message_start`, and `toSse()` forwards
 * the markers as SSE events named after their type (`RunToolsEvent` is `ClaudeRxEvent`, which every operator
 * accepts). `withTurn()` pairs each event with its turn;
 * `finalMessages()` gives the whole conversation at the end.
 *
 * - next: `turn_start`, the turn's stream events (and `stream_restart` markers of a `perRequest` retry),
 *   `turn_end`, then one `tool_result` per tool call; again per turn;
 * - complete: after the `turn_end` of a message that calls no tool;
 * - error: what a request fails with (as `claudeStream` and the `perRequest` operators report it);
 *   `MaxTurnsExceededError` (with `.messages`) when the model still calls tools after `maxTurns` requests; the
 *   `signal`'s reason when it aborts;
 * - unsubscribe: aborts the request in progress and every running tool (their `signal` fires); no request follows.
 *
 * `params` and `options` are never mutated. Options are checked at once: a `TypeError` names a bad one (a tool
 * without `run`, two tools of the same name, a schema that is not of `type: 'object'`...).
 *
 * @param client An Anthropic SDK client.
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
  client: Anthropic,
  params: ClaudeStreamParams,
  options: RunToolsOptions,
): Observable<RunToolsEvent> {
  const { maxTurns, concurrency } = checkOptions(options);
  if (params === null || typeof params !== 'object' || !Array.isArray(params.messages)) {
    throw new TypeError('runTools: params must be request parameters with a messages array');
  }
  const { perRequest, signal, requestOptions } = options;
  const serverTools = params.tools ?? [];
  const prepared = prepareTools(options.tools, serverTools);
  const body: ClaudeStreamParams = {
    ...params,
    tools: [...serverTools, ...[...prepared.values()].map(({ tool, schema }) => definitionOf(tool, schema))],
  };
  const toolNames = [...prepared.keys()].map((name) => JSON.stringify(name)).join(', ');
  const firstMessages = deepFrozenCopy(params.messages);

  const runCall = (turn: number, call: ToolUseBlock): Observable<ToolResultEvent> => {
    const resultEvent = (content: ToolResultBlockParam['content'], failure?: { error?: unknown }): ToolResultEvent => ({
      type: 'tool_result',
      turn,
      toolUseId: call.id,
      name: call.name,
      input: call.input,
      result: Object.freeze({
        type: 'tool_result',
        tool_use_id: call.id,
        ...(content === undefined ? {} : { content }),
        ...(failure ? { is_error: true } : {}),
      }),
      isError: failure !== undefined,
      ...(failure && 'error' in failure ? { error: failure.error } : {}),
    });
    const entry = prepared.get(call.name);
    if (!entry) {
      const available = toolNames === '' ? 'none' : toolNames;
      return of(resultEvent(`Unknown tool ${JSON.stringify(call.name)}. Available tools: ${available}.`, {}));
    }
    const { tool, schema } = entry;
    return withAbortSignal((toolSignal) =>
      defer(() => {
        const checked = schema.check(call.input);
        return checked instanceof Promise ? from(checked) : of(checked);
      }).pipe(
        mergeMap((checked: InputCheck) => {
          if (!checked.ok) {
            const problems = checked.problems.join('; ');
            return of(resultEvent(`Invalid input for tool ${JSON.stringify(call.name)}: ${problems}`, {}));
          }
          const output: unknown = tool.run(checked.value, { signal: toolSignal, toolUse: call, turn });
          const output$: Observable<unknown> = isObservable(output)
            ? output.pipe(last(null, undefined))
            : isPromiseLike(output)
              ? from(output)
              : of(output);
          return output$.pipe(map((value) => resultEvent(contentOf(value))));
        }),
        catchError((error: unknown) => of(resultEvent(describeError(error), { error }))),
      ),
    );
  };

  const afterTurn = (
    turn: number,
    history: readonly MessageParam[],
    draft: MessageDraft,
  ): Observable<RunToolsEvent> => {
    // A `perRequest` operator may end a request early (e.g. `take`): that turn is incomplete, like a cut stream.
    if (!draft.stopped) return throwError(() => new IncompleteStreamError(draft.toMessage({ resendable: true })));
    // A tool must never run on a value the model did not send: the run fails as the SDK's stream would.
    const badInput = draft.firstToolInputError();
    if (badInput) return throwError(() => badInput);
    // Frozen, so that what the subscriber is shown is what the next request sends.
    const message = deepFrozenCopy(draft.toMessage()!);
    draft.reset();
    const assistant: MessageParam = Object.freeze({ role: 'assistant', content: message.content });
    const conversation = Object.freeze([...history, assistant]);
    const end$ = of<TurnEndEvent>({ type: 'turn_end', turn, message, messages: conversation });
    const calls = message.stop_reason === 'tool_use' ? message.content.filter(isToolUse) : [];
    if (calls.length === 0 && message.stop_reason !== 'pause_turn') return end$;
    if (turn >= maxTurns)
      return concat(
        end$,
        throwError(() => new MaxTurnsExceededError(turn, conversation)),
      );
    if (calls.length === 0) return concat(end$, runTurn(turn + 1, conversation));

    const results: ToolResultBlockParam[] = [];
    return concat(
      end$,
      from(calls).pipe(
        mergeMap(
          (call, index) => runCall(turn, call).pipe(tap((event) => (results[index] = event.result))),
          concurrency,
        ),
      ),
      defer(() => {
        const user: MessageParam = Object.freeze({
          role: 'user',
          content: Object.freeze([...results]) as ToolResultBlockParam[],
        });
        return runTurn(turn + 1, Object.freeze([...conversation, user]));
      }),
    );
  };

  const runTurn = (turn: number, history: readonly MessageParam[]): Observable<RunToolsEvent> =>
    defer(() => {
      const draft = new MessageDraft();
      const messages = [...history];
      // Deferred, so that a function of `requestOptions` is asked again for each attempt of a `perRequest` retry.
      const request$ =
        typeof requestOptions === 'function'
          ? defer(() => claudeStream(client, { ...body, messages }, requestOptions(turn)))
          : claudeStream(client, { ...body, messages }, requestOptions);
      const events$ = (perRequest ? perRequest(request$, turn) : request$).pipe(
        tap({
          next(event: ClaudeRxEvent) {
            if (isStreamRestart(event)) draft.reset();
            else draft.apply(event);
          },
          // What had arrived stays reachable through `partialMessageOf`, whichever `perRequest` operator failed.
          error(error: unknown) {
            if (draft.started) rememberPartialMessage(error, draft.toMessage({ resendable: true }));
          },
        }),
      );
      return concat(
        of<TurnStartEvent>({ type: 'turn_start', turn }),
        events$,
        defer(() => afterTurn(turn, history, draft)),
      );
    });

  return new Observable<RunToolsEvent>((subscriber) => {
    if (signal?.aborted) {
      subscriber.error(signal.reason);
      return;
    }
    // Erroring the subscriber runs the teardown below, which aborts the request or the tools in progress.
    const unlinkSignal = signal ? onAbort(signal, () => subscriber.error(signal.reason)) : undefined;
    const subscription = runTurn(1, firstMessages).subscribe({
      next: (event) => subscriber.next(event),
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    return () => {
      unlinkSignal?.();
      subscription.unsubscribe();
    };
  });
}
