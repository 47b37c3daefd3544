import type { ClientOptions } from '@anthropic-ai/sdk';
import {
  MemoryStreamStore,
  ResumableStreams,
  retryOnRateLimit,
  timeoutBetweenChunks,
  type ClaudeBetaClient,
  type ClaudeClient,
  type ClaudeStreamParams,
  type ResumableStreamsOptions,
  type RetryOnRateLimitOptions,
  type StreamStore,
  type TimeoutBetweenChunksOptions,
} from '../lib/index.js';
import type { ClaudeFinishInfo } from './claude-finish-info.js';
import { toSse, type ToSseOptions } from './to-sse.js';

/**
 * SSE settings of `ClaudeStreamModule`: the `toSse` options every `sse()` call starts from, and how long the
 * Observable that `sse()` resolves to waits for a subscriber.
 *
 * @example
 * ```ts
 * import { ClaudeStreamModule, type ClaudeStreamSseOptions } from 'claude-rx/nest';
 *
 * const sse: ClaudeStreamSseOptions = { heartbeatMs: 10_000, events: ['text_delta', 'thinking_delta'] };
 * ClaudeStreamModule.forRoot({ sse });
 * ```
 */
export interface ClaudeStreamSseOptions extends ToSseOptions {
  /**
   * How long the Observable that `sse()` resolves to may wait for a subscriber before its upstream request is
   * aborted (Nest subscribes at once; it never does when the client left during set-up).
   * @defaultValue 5000
   */
  readonly subscribeTimeoutMs?: number;
}

/**
 * The `resume` option of `ClaudeStreamModule`: how resumable streams run. Every field has a default, so `{}` (or
 * `true`) turns them on as they are.
 *
 * @example
 * ```ts
 * import { ClaudeStreamModule, type ClaudeStreamResumeOptions } from 'claude-rx/nest';
 *
 * const resume: ClaudeStreamResumeOptions = { graceMs: 30_000, ttlMs: 600_000, maxStreamsPerOwner: 3 };
 * ClaudeStreamModule.forRoot({ resume });
 * ```
 */
export interface ClaudeStreamResumeOptions extends Omit<ResumableStreamsOptions, 'store'> {
  /**
   * On `app.close()` (a deploy): how long the streams produced by this instance may run on to their end before they
   * are aborted. Their readers' connections are ended at once (they reconnect, and resume on another instance that
   * shares the store); new calls are refused meanwhile. With 0, the streams are aborted at once, and their readers
   * get an `error` event (`server_shutdown`).
   * @defaultValue 10000 with a shared store (`RedisStreamStore`); 0 with a `MemoryStreamStore`, whose streams cannot
   *   be resumed anywhere once the process is gone
   */
  readonly drainMs?: number;
}

/**
 * What `ClaudeStreamModule` takes as its client: any Claude client, typed by what the module calls
 * (`messages.create`, and `beta.messages.create` for params with `betas`).
 *
 * @example
 * ```ts
 * import { AnthropicFoundry } from '@anthropic-ai/foundry-sdk';
 * import type { ClaudeModuleClient } from 'claude-rx/nest';
 *
 * const client: ClaudeModuleClient = new AnthropicFoundry({ apiKey, resource: 'my-resource' });
 * ```
 */
export type ClaudeModuleClient = ClaudeClient & ClaudeBetaClient;

/**
 * Options of `ClaudeStreamModule.forRoot()` (and what a `forRootAsync()` factory returns).
 *
 * Give `client`, or what builds one: `apiKey`, `baseURL`, `clientOptions` (by default the SDK reads
 * `ANTHROPIC_API_KEY`). Bad options fail at start-up with a message naming the option; the API key is never echoed.
 *
 * @example
 * ```ts
 * import { Module } from '@nestjs/common';
 * import { ClaudeStreamModule } from 'claude-rx/nest';
 *
 * @Module({
 *   imports: [
 *     ClaudeStreamModule.forRoot({
 *       defaults: { model: 'claude-sonnet-5-5', max_tokens: 1024 },
 *       retry: { maxRetries: 3 },
 *       timeout: { first: 30_000, each: 15_000 },
 *       sse: { heartbeatMs: 10_000 },
 *       isGlobal: true,
 *     }),
 *   ],
 * })
 * class AppModule {}
 * ```
 */
export interface ClaudeStreamModuleOptions {
  /**
   * The Claude client to use, instead of building one (then `apiKey`, `baseURL` and `clientOptions` must be left
   * out): `Anthropic`, or a platform's (`AnthropicBedrock`, `AnthropicVertex`, `AnthropicFoundry`).
   * @defaultValue an `Anthropic` client built from the options below
   */
  readonly client?: ClaudeModuleClient;
  /** The API key of the client built. @defaultValue the `ANTHROPIC_API_KEY` environment variable */
  readonly apiKey?: string;
  /** The API's base URL. @defaultValue the `ANTHROPIC_BASE_URL` environment variable, else `https://api.anthropic.com` */
  readonly baseURL?: string;
  /** Further options of the client built (`maxRetries`, `timeout`, `defaultHeaders`, `fetch`, ...). @defaultValue `{}` */
  readonly clientOptions?: ClientOptions;
  /**
   * Request parameters merged under each call's (shallowly: a field the call sets replaces the default's), e.g.
   * `model` and `max_tokens`. @defaultValue `{}`
   */
  readonly defaults?: Partial<ClaudeStreamParams>;
  /**
   * `retryOnRateLimit`'s config for every call, or `false` for none. A config given replaces the default; fields it
   * leaves out take `retryOnRateLimit`'s defaults. One call (one turn of `runTools`) makes at most `1 + maxRetries`
   * upstream requests in all, the SDK's own retries included: the retries before the first byte are the SDK's (each
   * request's `maxRetries` set to what is left, its waits bounded by `maxDelayMs`), those after the stream began
   * `retryOnRateLimit`'s. With `false`, the client's own policy (its `maxRetries`) is left as it is.
   * @defaultValue `{ maxRetries: 2, maxDelayMs: 10000 }`
   */
  readonly retry?: RetryOnRateLimitOptions | false;
  /**
   * `timeoutBetweenChunks`'s limits for every call (a number is the gap between events), or `false` for none.
   * @defaultValue `{ first: 60000, each: 30000 }`
   */
  readonly timeout?: number | TimeoutBetweenChunksOptions | false;
  /** SSE settings for `sse()`. @defaultValue `{ heartbeatMs: 15000, subscribeTimeoutMs: 5000 }`, every event */
  readonly sse?: ClaudeStreamSseOptions;
  /**
   * What the instances of the application share: the events of resumable streams, stop requests, reader presence,
   * and the rate-limit backoff (a 429 or 529 that asked to wait holds new calls for the same key and model until
   * then). A `RedisStreamStore` (`claude-rx/redis`) for many instances.
   * @defaultValue a `MemoryStreamStore` of this process
   */
  readonly store?: StreamStore;
  /**
   * Makes `sse()` and `sseRunTools()` resumable (`true` or `{}` for the defaults): a stream runs apart from its
   * connection, every SSE `id` names the stream and the position, a disconnect starts `graceMs` instead of aborting,
   * a reconnect with `Last-Event-ID` gets the rest (`resume()`), and `stop()` ends it from any request. A closed tab
   * keeps generating (and paying) for up to `graceMs`.
   * @defaultValue off: a disconnect aborts the request at once, and a `Last-Event-ID` is answered with 204
   */
  readonly resume?: boolean | ClaudeStreamResumeOptions;
  /**
   * Called once per call or run, however it ends (complete, error, client gone, stopped, grace-aborted, shutdown),
   * with the message (or the partial one), the summed usage, the model, the owner and the outcome: where an app saves
   * answers nobody was reading any more, and bills. It may return a promise; what it throws or rejects with is logged
   * (without its message) and never reaches the stream.
   * @defaultValue none
   */
  readonly onFinish?: (info: ClaudeFinishInfo) => void | Promise<void>;
}

/** The module's options validated and defaulted: what `ClaudeStreamService` runs with. */
export interface ClaudeStreamConfig {
  readonly defaults: Partial<ClaudeStreamParams>;
  readonly retry: RetryOnRateLimitOptions | false;
  readonly timeout: number | TimeoutBetweenChunksOptions | false;
  readonly sse: ToSseOptions;
  readonly subscribeTimeoutMs: number;
  readonly store: StreamStore;
  /** The resumable streams, when `resume` is on. */
  readonly streams: ResumableStreams | undefined;
  /** How long a shutdown lets this instance's resumable streams run on (`resume.drainMs`). */
  readonly drainMs: number;
  /** `onFinish`, when set. */
  readonly onFinish: ((info: ClaudeFinishInfo) => void | Promise<void>) | undefined;
}

/** The module's default `retry`: short enough for a request that a browser is waiting on. */
export const DEFAULT_RETRY: RetryOnRateLimitOptions = { maxRetries: 2, maxDelayMs: 10_000 };
/** The module's default `timeout`: a minute for the first event (long prompts), half a minute between events. */
export const DEFAULT_TIMEOUT: TimeoutBetweenChunksOptions = { first: 60_000, each: 30_000 };
const DEFAULT_SUBSCRIBE_TIMEOUT_MS = 5_000;

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'client',
  'apiKey',
  'baseURL',
  'clientOptions',
  'defaults',
  'retry',
  'timeout',
  'sse',
  'store',
  'resume',
  'onFinish',
]);
const SSE_OPTION_NAMES: ReadonlySet<string> = new Set(['heartbeatMs', 'events', 'subscribeTimeoutMs']);

function fail(why: string): never {
  throw new TypeError(`ClaudeStreamModule: ${why}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** Runs a claude-rx factory for its validation, re-throwing its complaint under the option's name. */
function validateWith(option: string, create: () => unknown): void {
  try {
    create();
  } catch (error) {
    fail(`invalid options.${option}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function checkDefaults(defaults: unknown): Partial<ClaudeStreamParams> {
  if (defaults === undefined) return {};
  if (!isObject(defaults)) fail(`options.defaults must be an object of request parameters, got ${kindOf(defaults)}`);
  if ('stream' in defaults) fail('options.defaults.stream is not allowed: claude-rx always streams');
  const { model, max_tokens: maxTokens } = defaults;
  if (model !== undefined && (typeof model !== 'string' || model.trim() === '')) {
    fail('options.defaults.model must be a non-empty string');
  }
  if (maxTokens !== undefined && (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1)) {
    fail(
      `options.defaults.max_tokens must be a positive integer, got ${JSON.stringify(maxTokens) ?? kindOf(maxTokens)}`,
    );
  }
  return { ...defaults };
}

function checkClientOptions(options: Record<string, unknown>): void {
  const { client, apiKey, baseURL, clientOptions } = options;
  if (client !== undefined) {
    const messages: unknown = isObject(client) ? client['messages'] : undefined;
    if (!isObject(messages) || typeof messages['create'] !== 'function') {
      fail('options.client must be a Claude client with messages.create (new Anthropic(...), AnthropicVertex...)');
    }
    const also = ['apiKey', 'baseURL', 'clientOptions'].filter((name) => options[name] !== undefined);
    if (also.length > 0)
      fail(`options.client builds nothing, so options.${also.join(' and options.')} cannot be used with it`);
    return;
  }
  // The key is never part of a message, not even its length or its first characters.
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.trim() === '')) {
    fail(
      `options.apiKey must be a non-empty string, got ${typeof apiKey === 'string' ? 'a blank string' : kindOf(apiKey)}`,
    );
  }
  if (baseURL !== undefined) {
    // Not echoed either: a URL can carry credentials.
    const url = typeof baseURL === 'string' && URL.canParse(baseURL) ? new URL(baseURL) : undefined;
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      fail('options.baseURL must be an absolute http(s) URL');
    }
  }
  if (clientOptions !== undefined) {
    if (!isObject(clientOptions)) fail(`options.clientOptions must be an object, got ${kindOf(clientOptions)}`);
    if (apiKey !== undefined && clientOptions['apiKey'] != null) {
      fail('the API key is given twice: set options.apiKey or options.clientOptions.apiKey, not both');
    }
    if (baseURL !== undefined && clientOptions['baseURL'] != null) {
      fail('the base URL is given twice: set options.baseURL or options.clientOptions.baseURL, not both');
    }
  }
}

function checkSse(sse: unknown): { sse: ToSseOptions; subscribeTimeoutMs: number } {
  if (sse === undefined) return { sse: {}, subscribeTimeoutMs: DEFAULT_SUBSCRIBE_TIMEOUT_MS };
  if (!isObject(sse)) fail(`options.sse must be an object, got ${kindOf(sse)}`);
  for (const name of Object.keys(sse)) {
    if (!SSE_OPTION_NAMES.has(name))
      fail(`options.sse.${name} is not an option (expected ${[...SSE_OPTION_NAMES].join(', ')})`);
  }
  const { subscribeTimeoutMs, ...toSseOptions } = sse as ClaudeStreamSseOptions;
  validateWith('sse', () => toSse(toSseOptions));
  if (
    subscribeTimeoutMs !== undefined &&
    (typeof subscribeTimeoutMs !== 'number' || !Number.isFinite(subscribeTimeoutMs) || subscribeTimeoutMs <= 0)
  ) {
    fail(`options.sse.subscribeTimeoutMs must be a positive number of milliseconds, got ${String(subscribeTimeoutMs)}`);
  }
  return { sse: toSseOptions, subscribeTimeoutMs: subscribeTimeoutMs ?? DEFAULT_SUBSCRIBE_TIMEOUT_MS };
}

function storeAndStreams(options: Record<string, unknown>): {
  store: StreamStore;
  streams: ResumableStreams | undefined;
  drainMs: number;
} {
  const store = checkStore(options['store']);
  return { store, ...checkResume(options['resume'], store) };
}

const STORE_METHODS = [
  'create',
  'append',
  'info',
  'read',
  'renewLease',
  'requestStop',
  'stopRequests',
  'attachReader',
  'detachReader',
  'hasReaders',
  'holdCalls',
  'callsHeldUntil',
] as const;

function checkStore(store: unknown): StreamStore {
  if (store === undefined) return new MemoryStreamStore();
  const missing = isObject(store)
    ? STORE_METHODS.filter((name) => typeof store[name] !== 'function')
    : [...STORE_METHODS];
  if (missing.length > 0) {
    fail(`options.store must be a StreamStore (MemoryStreamStore, RedisStreamStore); it has no ${missing.join(', ')}`);
  }
  return store as unknown as StreamStore;
}

/** The drain of a shared store: long enough for most answers to end, short of a container's grace period (30 s). */
const DEFAULT_DRAIN_MS = 10_000;

function checkResume(resume: unknown, store: StreamStore): { streams: ResumableStreams | undefined; drainMs: number } {
  if (resume === undefined || resume === false) return { streams: undefined, drainMs: DEFAULT_DRAIN_MS };
  if (resume !== true && !isObject(resume)) {
    fail(`options.resume must be true, false or an object, got ${kindOf(resume)}`);
  }
  const options = resume === true ? {} : resume;
  if ('store' in options) fail('options.resume.store is not an option: give the store as options.store');
  const { drainMs = store instanceof MemoryStreamStore ? 0 : DEFAULT_DRAIN_MS, ...streamOptions } =
    options as ClaudeStreamResumeOptions;
  if (typeof drainMs !== 'number' || !Number.isFinite(drainMs) || drainMs < 0) {
    fail(`options.resume.drainMs must be a number of milliseconds, 0 or more, got ${String(drainMs)}`);
  }
  try {
    return { streams: new ResumableStreams({ ...streamOptions, store }), drainMs };
  } catch (error) {
    fail(
      `invalid options.resume: ${error instanceof Error ? error.message.replace(/^ResumableStreams: /, '') : String(error)}`,
    );
  }
}

/**
 * Validates the module's options and fills in the defaults. Throws a `TypeError` that names the option and says
 * why; the API key's value never appears in it.
 */
function checkOnFinish(onFinish: unknown): ClaudeStreamConfig['onFinish'] {
  if (onFinish !== undefined && typeof onFinish !== 'function') {
    fail(`options.onFinish must be a function, got ${kindOf(onFinish)}`);
  }
  return onFinish as ClaudeStreamConfig['onFinish'];
}

export function resolveClaudeStreamConfig(options: unknown): ClaudeStreamConfig {
  if (!isObject(options)) fail(`the options must be an object, got ${kindOf(options)}`);
  for (const name of Object.keys(options)) {
    if (name === 'isGlobal')
      fail('options.isGlobal belongs to forRootAsync({ isGlobal }), not to the options its factory returns');
    if (!OPTION_NAMES.has(name)) fail(`options.${name} is not an option (expected ${[...OPTION_NAMES].join(', ')})`);
  }
  checkClientOptions(options);
  const defaults = checkDefaults(options['defaults']);

  const retry = options['retry'] ?? DEFAULT_RETRY;
  if (retry !== false && !isObject(retry))
    fail(`options.retry must be a retryOnRateLimit config or false, got ${kindOf(retry)}`);
  if (retry !== false) validateWith('retry', () => retryOnRateLimit(retry));

  const timeout = options['timeout'] ?? DEFAULT_TIMEOUT;
  if (timeout !== false && typeof timeout !== 'number' && !isObject(timeout)) {
    fail(
      `options.timeout must be a number of milliseconds, a timeoutBetweenChunks config or false, got ${kindOf(timeout)}`,
    );
  }
  if (timeout !== false) validateWith('timeout', () => timeoutBetweenChunks(timeout));

  return {
    defaults,
    retry: retry === false ? false : { ...(retry as RetryOnRateLimitOptions) },
    timeout:
      timeout === false || typeof timeout === 'number' ? timeout : { ...(timeout as TimeoutBetweenChunksOptions) },
    ...checkSse(options['sse']),
    ...storeAndStreams(options),
    onFinish: checkOnFinish(options['onFinish']),
  };
}

/**
 * A class that supplies the module's options, for `ClaudeStreamModule.forRootAsync({ useClass })` or
 * `{ useExisting }`.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import { ConfigService } from '@nestjs/config';
 * import type { ClaudeStreamModuleOptions, ClaudeStreamOptionsFactory } from 'claude-rx/nest';
 *
 * @Injectable()
 * class ClaudeConfig implements ClaudeStreamOptionsFactory {
 *   constructor(private readonly config: ConfigService) {}
 *   createClaudeStreamOptions(): ClaudeStreamModuleOptions {
 *     return { apiKey: this.config.getOrThrow('ANTHROPIC_API_KEY'), defaults: { model: 'claude-sonnet-5-5', max_tokens: 1024 } };
 *   }
 * }
 * ```
 */
export interface ClaudeStreamOptionsFactory {
  /** Returns the options, or a promise of them. */
  createClaudeStreamOptions(): ClaudeStreamModuleOptions | Promise<ClaudeStreamModuleOptions>;
}
