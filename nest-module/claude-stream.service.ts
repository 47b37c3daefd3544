import Anthropic from '@anthropic-ai/sdk';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type MessageEvent,
  type OnModuleInit,
} from '@nestjs/common';
import { defer, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import {
  claudeStream,
  finalMessage,
  runTools,
  SharedBackoff,
  textOnly,
  type ClaudeRequestOptions,
  type ClaudeRxEvent,
  type ClaudeStreamParams,
  type RetryOnRateLimitOptions,
  type RunToolsEvent,
  type RunToolsOptions,
} from '../lib/index.js';
import type { ClaudeCallOptions, ClaudeCallParams, ClaudeSseCallOptions } from './claude-call-options.js';
import { CLAUDE_STREAM_CLIENT, CLAUDE_STREAM_CONFIG } from './claude-stream.constants.js';
import type { ClaudeModuleClient, ClaudeStreamConfig } from './claude-stream.options.js';
import { ClaudeStreamNotResumableException } from './claude-stream-not-resumable.exception.js';
import { ResumableSseResponder } from './resumable-sse-responder.js';
import { ShutdownRegistry } from './shutdown-registry.js';
import { SseResponder } from './sse-responder.js';
import { DEFAULT_MAX_DELAY_MS, retriesFor, type CallRetries } from './upstream-retry-budget.js';
import { FinishReporter, type FinishContext } from './finish-reporter.js';
import { timeoutsFor } from './upstream-timeout.js';

/**
 * Options of `ClaudeStreamService.runTools()`: those of every call (`signal`, `requestOptions`, and `retry` and
 * `timeout`, which apply to each request of the conversation), plus the tools and `runTools`' `maxTurns` and
 * `concurrency`.
 *
 * @example
 * ```ts
 * import type { ClaudeRunToolsOptions } from 'claude-rx/nest';
 *
 * const options: ClaudeRunToolsOptions = { tools: [getWeather], maxTurns: 5, timeout: { each: 10_000 } };
 * ```
 */
export interface ClaudeRunToolsOptions
  extends ClaudeCallOptions, Omit<RunToolsOptions, 'signal' | 'requestOptions' | 'perRequest'> {}

/**
 * Options of `ClaudeStreamService.sseRunTools()`: those of `runTools()` (the tools, `maxTurns`, `concurrency`,
 * `signal`, `requestOptions`, `retry`, `timeout`) plus those of `sse()` (`events`, `heartbeatMs`,
 * `subscribeTimeoutMs`).
 *
 * @example
 * ```ts
 * import type { ClaudeSseRunToolsOptions } from 'claude-rx/nest';
 *
 * const options: ClaudeSseRunToolsOptions = { tools: [getWeather], maxTurns: 4, heartbeatMs: 10_000 };
 * ```
 */
export interface ClaudeSseRunToolsOptions extends ClaudeRunToolsOptions, ClaudeSseCallOptions {}

/**
 * Claude's streaming Messages API for Nest: `claudeStream` with the module's defaults, retry and timeout, plus
 * `sse()` for `@Sse()` routes. Every method is lazy and cancellable like `claudeStream`: nothing is sent before
 * subscription, and unsubscribing aborts the request. `client` is the Claude client, for everything else.
 *
 * When the application shuts down (`app.close()`, or a signal with `enableShutdownHooks()`), every call still open
 * is ended with a `ClaudeStreamShutdownError`, which aborts its request, and new calls fail with it.
 *
 * @example
 * ```ts
 * import { Controller, Query, Sse, SseSignal, type MessageEvent } from '@nestjs/common';
 * import type { Observable } from 'rxjs';
 * import { ClaudeStreamService } from 'claude-rx/nest';
 *
 * @Controller('chat')
 * class ChatController {
 *   constructor(private readonly claude: ClaudeStreamService) {}
 *
 *   @Sse('stream')
 *   stream(@Query('q') q: string, @SseSignal() signal: AbortSignal): Promise<Observable<MessageEvent>> {
 *     return this.claude.sse({ messages: [{ role: 'user', content: q }] }, { signal });
 *   }
 * }
 * ```
 */
@Injectable()
export class ClaudeStreamService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly shutdownRegistry = new ShutdownRegistry();
  private readonly responder: SseResponder;
  /** Resume mode's responder, when the module's `resume` is on. */
  private readonly resumable: ResumableSseResponder | undefined;
  private readonly backoff: SharedBackoff;
  private readonly finishes: FinishReporter;

  constructor(
    /**
     * The Claude client (the `CLAUDE_STREAM_CLIENT` provider), for what the service does not cover; typed by what the
     * module calls. For the rest of a client's API, inject it with its own type:
     * `@Inject(CLAUDE_STREAM_CLIENT) client: Anthropic`.
     */
    @Inject(CLAUDE_STREAM_CLIENT) readonly client: ClaudeModuleClient,
    @Inject(CLAUDE_STREAM_CONFIG) private readonly config: ClaudeStreamConfig,
  ) {
    const logger = new Logger('ClaudeStreamService');
    this.finishes = new FinishReporter(config.onFinish, logger);
    this.responder = new SseResponder(config, logger);
    this.resumable =
      config.streams &&
      new ResumableSseResponder(config.streams, config, (error) => this.responder.logFailure(error), logger);
    this.backoff = new SharedBackoff(config.store);
  }

  /**
   * Streams a call's events: `claudeStream` with the module's `defaults` under `params`, then its `timeout` and
   * `retry` (each replaceable per call). The call sends at most `1 + retry.maxRetries` requests, the SDK's own
   * retries before the first byte included (see `ClaudeStreamModuleOptions.retry`); `timeout.first` bounds each.
   *
   * - next: every event, `message_start` to `message_stop` (a `stream_restart` marker too, with
   *   `retry.restartAfterContent`);
   * - error: as `claudeStream`, `timeoutBetweenChunks` and `retryOnRateLimit` report it; `ClaudeStreamShutdownError`
   *   when the application shuts down;
   * - complete: after `message_stop`; unsubscribe: aborts the request.
   *
   * @param params Request parameters; `model` and `max_tokens` may come from the module's `defaults`.
   * @param opts `signal`, SDK `requestOptions`, and `retry`/`timeout` for this call.
   * @returns A cold Observable: each subscription is a call of its own.
   * @throws TypeError at once when `model` or `max_tokens` is set neither here nor in `defaults`, or an option is bad.
   *
   * @example
   * ```ts
   * import { accumulateMessage } from 'claude-rx';
   *
   * this.claude.stream({ messages }).pipe(accumulateMessage()).subscribe((snapshot) => render(snapshot));
   * ```
   */
  stream(params: ClaudeCallParams, opts: ClaudeCallOptions = {}): Observable<ClaudeRxEvent> {
    return this.streamFor(params, opts, {});
  }

  /** `stream()`, reported to `onFinish` with what the service knows of the call. */
  private streamFor(
    params: ClaudeCallParams,
    opts: ClaudeCallOptions,
    context: FinishContext,
  ): Observable<ClaudeRxEvent> {
    const body = this.paramsFor(params);
    const { signal, requestOptions, retry = this.config.retry, timeout = this.config.timeout } = opts;
    // Made once, here, so that a bad `retry` or `timeout` throws now rather than at the first request.
    const timeoutFor = timeoutsFor(timeout);
    const newRetries = retriesFor(retry);
    const backoff = this.backoffFor(body.model, retry);
    // Each subscription is a call of its own, with a budget of its own.
    const events = defer(() => {
      const retries = newRetries();
      // Deferred, so that each attempt of the retry asks the budget for what is left, and the shared backoff whether
      // it may go at all.
      const call$: Observable<ClaudeRxEvent> = defer(() =>
        claudeStream(this.client, body, {
          ...backoff.requestOptions(retries.requestOptions(requestOptions)),
          ...(signal ? { signal } : {}),
        }),
      ).pipe(backoff.admit);
      // The timeout applies to each attempt, the SDK's too, so that a retry's wait does not count against `first`.
      return call$.pipe(timeoutFor(retries), retries.retryOperator());
    });
    return this.shutdownRegistry.track(events).pipe(this.finishes.reported('stream', body.model, context));
  }

  /**
   * Streams the answer's text: `stream(params, opts)` piped through `textOnly()`.
   *
   * - next: each text fragment; error, complete, unsubscribe: as `stream()`.
   *
   * @param params Request parameters; `model` and `max_tokens` may come from the module's `defaults`.
   * @param opts As for `stream()`.
   * @returns A cold Observable of text fragments.
   *
   * @example
   * ```ts
   * this.claude.text({ messages: [{ role: 'user', content: 'Write a haiku' }] }).subscribe((t) => process.stdout.write(t));
   * ```
   */
  text(params: ClaudeCallParams, opts: ClaudeCallOptions = {}): Observable<string> {
    return this.stream(params, opts).pipe(textOnly());
  }

  /**
   * The whole message once it is complete: `stream(params, opts)` piped through `finalMessage()`.
   *
   * An Observable rather than a Promise, so that it is lazy and cancellable: returned from a Nest route handler,
   * Nest unsubscribes when the client disconnects, which aborts the request. `firstValueFrom()` it for a Promise
   * (pass `opts.signal` to keep it cancellable).
   *
   * - next: the `Message`, once; error: as `stream()`, or `IncompleteStreamError` with `.partial`; unsubscribe: aborts.
   *
   * @param params Request parameters; `model` and `max_tokens` may come from the module's `defaults`.
   * @param opts As for `stream()`.
   * @returns A cold Observable of one `Message`.
   *
   * @example
   * ```ts
   * import { Body, Controller, Post } from '@nestjs/common';
   * import { firstValueFrom } from 'rxjs';
   *
   * @Post('ask')
   * ask(@Body('q') q: string) {
   *   return this.claude.finalMessage({ messages: [{ role: 'user', content: q }] }); // Nest awaits it
   * }
   * // elsewhere: const message = await firstValueFrom(this.claude.finalMessage(params));
   * ```
   */
  finalMessage(params: ClaudeCallParams, opts: ClaudeCallOptions = {}): Observable<Anthropic.Messages.Message> {
    return this.stream(params, opts).pipe(finalMessage());
  }

  /**
   * Streams a whole tool-use conversation: `runTools` with the module's `defaults` under `params`, and its `timeout`
   * and `retry` (each replaceable per call) applied to each request, so that a retry resends one turn, not the
   * conversation.
   *
   * - next: `turn_start`, the turn's stream events, `turn_end`, then a `tool_result` per tool call; again per turn
   *   (see `runTools`);
   * - error: as `runTools` reports it (`MaxTurnsExceededError`, a request's failure, `opts.signal`'s reason);
   *   `ClaudeStreamShutdownError` when the application shuts down;
   * - complete: after the turn that calls no tool; unsubscribe: aborts the request and the running tools.
   *
   * @param params Request parameters; `model` and `max_tokens` may come from the module's `defaults`.
   * @param opts `tools`, `maxTurns`, `concurrency`, and `signal`, `requestOptions`, `retry`, `timeout` as for
   *   `stream()`.
   * @returns A cold Observable: each subscription runs the conversation.
   * @throws TypeError at once when `model` or `max_tokens` is set neither here nor in `defaults`, or an option is bad.
   *
   * @example
   * ```ts
   * import { Controller, Query, Sse, type MessageEvent } from '@nestjs/common';
   * import { map, type Observable } from 'rxjs';
   * import { defineTool } from 'claude-rx';
   * import { ClaudeStreamService } from 'claude-rx/nest';
   *
   * const getTime = defineTool({
   *   name: 'get_time',
   *   description: 'The current time, as an ISO string.',
   *   inputSchema: { type: 'object', properties: {} },
   *   run: () => new Date().toISOString(),
   * });
   *
   * @Controller('agent')
   * class AgentController {
   *   constructor(private readonly claude: ClaudeStreamService) {}
   *
   *   @Sse('run')
   *   run(@Query('q') q: string): Observable<MessageEvent> {
   *     return this.claude
   *       .runTools({ messages: [{ role: 'user', content: q }] }, { tools: [getTime] })
   *       .pipe(map((event) => ({ type: event.type, data: JSON.stringify(event) })));
   *   }
   * }
   * ```
   */
  runTools(params: ClaudeCallParams, opts: ClaudeRunToolsOptions): Observable<RunToolsEvent> {
    return this.runToolsFor(params, opts, {});
  }

  /** `runTools()`, reported to `onFinish` with what the service knows of the run. */
  private runToolsFor(
    params: ClaudeCallParams,
    opts: ClaudeRunToolsOptions,
    context: FinishContext,
  ): Observable<RunToolsEvent> {
    const body = this.paramsFor(params);
    if (typeof opts !== 'object' || opts === null) {
      throw new TypeError('ClaudeStreamService.runTools: opts must be an object with the tools');
    }
    const { signal, requestOptions, retry = this.config.retry, timeout = this.config.timeout, ...runOptions } = opts;
    // Made once, here, so that a bad `retry` or `timeout` throws now rather than at the first request.
    const timeoutFor = timeoutsFor(timeout);
    const newRetries = retriesFor(retry);
    const backoff = this.backoffFor(body.model, retry);
    const runWith = (turn: { retries: CallRetries }) =>
      runTools(this.client, body, {
        ...runOptions,
        ...(signal ? { signal } : {}),
        // Asked before each attempt: the turn's budget says how many retries the SDK may still make.
        requestOptions: () => backoff.requestOptions(turn.retries.requestOptions(requestOptions)),
        // Each turn is a call of its own, with a budget of its own. As in `stream()`, the timeout applies to each
        // attempt, so that a retry's wait does not count against `first`; each attempt waits for the shared backoff.
        perRequest: (events) => {
          turn.retries = newRetries();
          return events.pipe(backoff.admit, timeoutFor(turn.retries), turn.retries.retryOperator());
        },
      });
    // Checked now (a bad tool or option throws at the call); run anew, with a budget of its own, per subscription.
    runWith({ retries: newRetries() });
    const run$ = defer(() => runWith({ retries: newRetries() }));
    return this.shutdownRegistry.track(run$).pipe(this.finishes.reported('runTools', body.model, context));
  }

  /**
   * Starts a call for an `@Sse()` route and resolves, once the upstream has answered with its first event, to the
   * `MessageEvent`s to return (see `toSse`: ids, heartbeats, a sanitized `error` event, a final `done`).
   *
   * Return it from an async handler. A failure before the first event rejects with a `ClaudeUpstreamException`, so
   * that Nest answers with a real HTTP status instead of a 200 and an `error` event: 429 with `Retry-After`, 503 for
   * an overloaded API, 504 for no answer in time, 502 for any other upstream failure (a refused API key included;
   * the body never says why).
   *
   * Nothing is lost between the first event and Nest's subscription: events that arrive meanwhile are replayed.
   * Pass Nest's `@SseSignal()` (or `@ClientAbortSignal()`) as `opts.signal`, so that a client that disconnects
   * while the handler is waiting aborts the upstream request at once (the promise then rejects with the signal's
   * reason, which Nest drops as the client is gone). Without it, the request is aborted once the upstream answers
   * and Nest does not subscribe within `subscribeTimeoutMs`. After Nest has subscribed, a disconnect unsubscribes,
   * which aborts the request.
   *
   * @param params Request parameters; `model` and `max_tokens` may come from the module's `defaults`.
   * @param opts `signal`, `requestOptions`, `retry`, `timeout`, and `toSse`'s `events`/`heartbeatMs` (over the
   *   module's `sse` settings), `subscribeTimeoutMs`.
   * @returns A promise of the `MessageEvent` stream, which may be subscribed once.
   *
   * @example
   * ```ts
   * import { Body, Controller, HttpCode, Query, RequestMethod, Sse, SseSignal, type MessageEvent } from '@nestjs/common';
   * import type { Observable } from 'rxjs';
   * import { ClaudeStreamService } from 'claude-rx/nest';
   *
   * @Controller('chat')
   * class ChatController {
   *   constructor(private readonly claude: ClaudeStreamService) {}
   *
   *   @Sse('stream') // GET, for EventSource
   *   async stream(@Query('q') q: string, @SseSignal() signal: AbortSignal): Promise<Observable<MessageEvent>> {
   *     return this.claude.sse({ messages: [{ role: 'user', content: q }] }, { signal });
   *   }
   *
   *   @Sse('stream', { method: RequestMethod.POST })
   *   @HttpCode(200)
   *   async post(@Body() body: { q: string }, @SseSignal() signal: AbortSignal): Promise<Observable<MessageEvent>> {
   *     return this.claude.sse({ messages: [{ role: 'user', content: body.q }] }, { signal, events: ['text_delta'] });
   *   }
   * }
   * ```
   */
  async sse(params: ClaudeCallParams, opts: ClaudeSseCallOptions = {}): Promise<Observable<MessageEvent>> {
    const {
      heartbeatMs: _heartbeatMs,
      events: _events,
      subscribeTimeoutMs: _subscribeTimeoutMs,
      lastEventId: _lastEventId,
      owner,
      ...callOptions
    } = opts;
    if (this.resumable) {
      // The stream outlives the request: `signal` covers the setup only (the responder's wait), not the call.
      const { signal: _signal, ...streamOptions } = callOptions;
      return this.resumable.respond(
        'sse',
        (stopped) => this.streamFor(params, streamOptions, { owner, stopped }),
        opts,
      );
    }
    return this.responder.respond('sse', () => this.streamFor(params, callOptions, { owner }), opts);
  }

  /**
   * `sse()` for a whole tool-use conversation: starts `runTools(params, opts)` and resolves, once the first turn's
   * upstream has answered with its first event, to the `MessageEvent`s of every turn (see `toSse`): the stream
   * events, and the runTools markers as `turn_start` (`{ type, turn }`), `turn_end` (`{ type, turn, stop_reason }`)
   * and `tool_result` (`{ type, turn, tool_use_id, name, input, content, is_error }`: `content` is the tool's output,
   * or for a failed call a fixed message, never what the tool threw) events; ids increase from 1 over the whole
   * conversation, and one `done` ends it (or an `error` event, e.g. for `MaxTurnsExceededError` or a
   * later turn's failure).
   *
   * As with `sse()`: a failure before the first turn's first event rejects with a `ClaudeUpstreamException` (429
   * with `Retry-After`, 503, 504, 502), so that Nest answers with a real HTTP status; pass `@SseSignal()` as
   * `opts.signal` so that a client that leaves while the handler waits aborts the request (the promise then rejects
   * with the signal's reason); unsubscribing aborts the request or the tools in progress; an application shutdown
   * ends it. The first `turn_start` is held back until that first event, so that it is not what resolves the promise.
   *
   * @param params Request parameters; `model` and `max_tokens` may come from the module's `defaults`.
   * @param opts As for `runTools()` (`tools`, `maxTurns`, `concurrency`, `signal`, `requestOptions`, `retry`,
   *   `timeout`), plus `toSse`'s `events`/`heartbeatMs` (over the module's `sse` settings) and `subscribeTimeoutMs`.
   * @returns A promise of the `MessageEvent` stream, which may be subscribed once.
   *
   * @example
   * ```ts
   * import { Body, Controller, HttpCode, RequestMethod, Sse, SseSignal, type MessageEvent } from '@nestjs/common';
   * import type { Observable } from 'rxjs';
   * import { defineTool } from 'claude-rx';
   * import { ClaudeStreamService } from 'claude-rx/nest';
   *
   * const getTime = defineTool({
   *   name: 'get_time',
   *   description: 'The current time, as an ISO string.',
   *   inputSchema: { type: 'object', properties: {} },
   *   run: () => new Date().toISOString(),
   * });
   *
   * @Controller('agent')
   * class AgentController {
   *   constructor(private readonly claude: ClaudeStreamService) {}
   *
   *   @Sse('run', { method: RequestMethod.POST })
   *   @HttpCode(200)
   *   async run(@Body() body: { q: string }, @SseSignal() signal: AbortSignal): Promise<Observable<MessageEvent>> {
   *     return this.claude.sseRunTools(
   *       { messages: [{ role: 'user', content: body.q }] },
   *       { tools: [getTime], maxTurns: 5, signal },
   *     );
   *   }
   * }
   * ```
   */
  async sseRunTools(params: ClaudeCallParams, opts: ClaudeSseRunToolsOptions): Promise<Observable<MessageEvent>> {
    if (typeof opts !== 'object' || opts === null) {
      throw new TypeError('ClaudeStreamService.sseRunTools: opts must be an object with the tools');
    }
    const {
      heartbeatMs: _heartbeatMs,
      events: _events,
      subscribeTimeoutMs: _subscribeTimeoutMs,
      lastEventId: _lastEventId,
      owner,
      ...runOptions
    } = opts;
    if (this.resumable) {
      // The run outlives the request: `signal` covers the setup only (the responder's wait), not the tools or calls.
      const { signal: _signal, ...streamOptions } = runOptions;
      return this.resumable.respond(
        'sseRunTools',
        (stopped) => this.runToolsFor(params, streamOptions, { owner, stopped }),
        opts,
      );
    }
    return this.responder.respond('sseRunTools', () => this.runToolsFor(params, runOptions, { owner }), opts);
  }

  /**
   * Resumes a stream of `sse()` or `sseRunTools()` (resume mode): the events after `lastEventId`, then the live ones,
   * from any instance sharing the module's `store`. The answer table, the same as for `sse(..., { lastEventId })`:
   *
   * - 200: the `MessageEvent`s after the id, ending with the stream's final event (`done`, `error` or `stopped`);
   * - 204 (`ClaudeStreamNotResumableException`): the id is that of the final event, or `resume` is off;
   * - 404 (`ClaudeStreamNotFoundException`): unknown, forged, expired, another owner's, or its events were dropped;
   * - 400 (`ClaudeStreamIdException`): not an event id.
   *
   * While subscribed, the reader counts as attached (the stream is not aborted at `graceMs`); it may leave at any
   * time. A stream whose producer died ends with an `error` event (`stream_lost`).
   *
   * @param lastEventId The `Last-Event-ID` the client sent (`@LastEventId()`), or an event id it kept.
   * @param opts `owner` (as given to `sse()`), `signal` (the request's: a client gone while the store is asked gets
   *   nothing), `heartbeatMs`.
   * @returns A promise of the `MessageEvent` stream, for an `@Sse()` handler.
   *
   * @example
   * ```ts
   * import { Controller, Headers, HttpCode, Post, RequestMethod, Sse, SseSignal, type MessageEvent } from '@nestjs/common';
   * import type { Observable } from 'rxjs';
   * import { ClaudeStreamService } from 'claude-rx/nest';
   *
   * @Controller('chat')
   * class ChatController {
   *   constructor(private readonly claude: ClaudeStreamService) {}
   *
   *   @Sse('resume', { method: RequestMethod.POST }) // fetch() with the Last-Event-ID header
   *   @HttpCode(200)
   *   resume(@Headers('last-event-id') id: string, @SseSignal() signal: AbortSignal): Promise<Observable<MessageEvent>> {
   *     return this.claude.resume(id, { owner: currentUserId(), signal });
   *   }
   * }
   * ```
   */
  async resume(
    lastEventId: string,
    opts: {
      readonly owner?: string | undefined;
      readonly signal?: AbortSignal;
      readonly heartbeatMs?: number | false;
    } = {},
  ): Promise<Observable<MessageEvent>> {
    if (typeof lastEventId !== 'string') {
      throw new TypeError(`ClaudeStreamService.resume: lastEventId must be a string, got ${typeof lastEventId}`);
    }
    if (!this.resumable) throw new ClaudeStreamNotResumableException(lastEventId);
    return this.resumable.resume(lastEventId, opts);
  }

  /**
   * Stops a stream of `sse()` or `sseRunTools()` (resume mode), wherever it runs: its upstream request (and tools) are
   * aborted within a moment, and every reader's stream ends with a `stopped` event (data `{ "reason": "stop" }`).
   *
   * @param id The stream's id, or any of its event ids (e.g. the last one a client received).
   * @param opts `owner`: as given to `sse()`; another owner's stream is not stopped (and not told apart from unknown).
   * @returns `true` when the stream was live and is stopping; `false` when it is unknown, expired, another owner's, or
   *   over already, or when `resume` is off.
   * @throws ClaudeStreamIdException (400) when `id` is neither a stream id nor an event id.
   *
   * @example
   * ```ts
   * import { Body, Controller, HttpCode, Post } from '@nestjs/common';
   *
   * @Post('stop')
   * @HttpCode(200)
   * async stop(@Body('id') id: string) {
   *   return { stopped: await this.claude.stop(id, { owner: currentUserId() }) };
   * }
   * ```
   */
  async stop(id: string, opts: { readonly owner?: string | undefined } = {}): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`ClaudeStreamService.stop: id must be a string, got ${typeof id}`);
    if (!this.resumable) return false;
    return this.resumable.stop(id, opts.owner);
  }

  /**
   * Checks, at start-up, that the module's `store` can be used (`StreamStore.ready`): a Redis that cannot be reached
   * fails the start with an error that says what to check, rather than the first request. Called by Nest.
   *
   * @example
   * ```ts
   * await app.init(); // rejects: "RedisStreamStore: Redis did not answer PING within 2000 ms (…): check that it runs, …"
   * ```
   */
  async onModuleInit(): Promise<void> {
    await this.config.store.ready?.();
  }

  /**
   * Ends the calls still open, so that `app.close()` neither waits for streams nor leaves requests running; then
   * leaves Nest two event-loop turns to end their responses, so that the HTTP server closes at once. Called by Nest.
   *
   * - Without `resume`: every call still open ends with a `ClaudeStreamShutdownError` (its request aborted; an SSE
   *   client gets an `error` event of type `server_shutdown`), and new calls fail with it.
   * - With `resume` and a `drainMs` (a deploy, with a shared store): new calls are refused; every reader's connection ends at once, so that its client
   *   reconnects and resumes on another instance sharing the store; the streams produced here run on to their end
   *   for up to `resume.drainMs`, and what is left is then aborted (its readers get `server_shutdown`).
   *
   * @example
   * ```ts
   * await app.close(); // open SSE streams get an `error` event of type `server_shutdown` and end
   * ```
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.resumable && this.config.drainMs > 0) {
      this.shutdownRegistry.refuseNew();
      this.resumable.endReaders();
      await this.resumable.drain(this.config.drainMs);
    }
    await this.shutdownRegistry.shutdown();
  }

  /**
   * The shared backoff of one call: it waits for a hold of its (key, model) if that fits the retry's `maxDelayMs`
   * (else fails with `CallsHeldError`, a 429 with the remaining `Retry-After`), and holds everyone's calls when the
   * API answers it with a 429 or 529 that asks to wait.
   */
  private backoffFor(
    model: string,
    retry: RetryOnRateLimitOptions | false,
  ): {
    admit: MonoTypeOperatorFunction<ClaudeRxEvent>;
    requestOptions: (options: Omit<ClaudeRequestOptions, 'signal'>) => Omit<ClaudeRequestOptions, 'signal'>;
  } {
    const key = SharedBackoff.keyFor(this.client, model);
    const maxWaitMs = retry === false ? 0 : (retry.maxDelayMs ?? DEFAULT_MAX_DELAY_MS);
    const middleware = this.backoff.middleware(key);
    return {
      admit: this.backoff.admit<ClaudeRxEvent>(key, { maxWaitMs }),
      // Innermost, after the retry budget's: it sees each response as the API sent it.
      requestOptions: (options) => ({ ...options, middleware: [...(options.middleware ?? []), middleware] }),
    };
  }

  private paramsFor(params: ClaudeCallParams): ClaudeStreamParams {
    if (typeof params !== 'object' || params === null) {
      throw new TypeError('ClaudeStreamService: params must be an object of request parameters');
    }
    // A field the call leaves undefined does not erase the default.
    const own = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined));
    const merged = { ...this.config.defaults, ...own };
    for (const name of ['model', 'max_tokens'] as const) {
      if (merged[name] === undefined) {
        throw new TypeError(
          `ClaudeStreamService: no ${name}: set it in the call or in ClaudeStreamModule's defaults.${name}`,
        );
      }
    }
    return merged as ClaudeStreamParams;
  }
}
