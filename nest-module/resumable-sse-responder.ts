import { HttpException, type Logger, type MessageEvent } from '@nestjs/common';
import { of, ReplaySubject, takeUntil, tap, type Observable } from 'rxjs';
import {
  describeFailure,
  isRunToolsMarker,
  sseHeartbeat,
  StreamLostError,
  toSseFrames,
  type ClaudeRxEvent,
  type ResumableStreams,
  type SseErrorData,
  type SseFrame,
  type SseMessage,
  type SseStoppedData,
} from '../lib/index.js';
import { awaitFirstEvent } from './await-first-event.js';
import type { ClaudeStreamConfig } from './claude-stream.options.js';
import { httpExceptionFor } from './http-exception-for.js';
import { resumeExceptionFor } from './resume-exception-for.js';
import type { SseResponseOptions } from './sse-responder.js';
import { checkToSseOptions } from './to-sse.js';

/** Why a resumable stream was stopped, set before its events are unsubscribed: `stop()`, or no reader for `graceMs`. */
export interface StoppedBy {
  reason?: SseStoppedData['reason'];
}

/**
 * How `sse()` and `sseRunTools()` answer in resume mode: a request with `Last-Event-ID` is a resume (never a new
 * generation); otherwise a stream is created for the owner (429 beyond its limit), the call is started and its first
 * answer awaited (so that a failure before it is a real HTTP status, and nothing is stored), then the stream runs apart
 * from the connection and the request gets a reader of it. `signal` covers that setup only: once the stream runs, a
 * disconnect detaches the reader, which starts the grace.
 *
 * @example
 * ```ts
 * const responder = new ResumableSseResponder(streams, config, logger);
 * return responder.respond('sse', () => service.stream(params, callOptions), { ...opts, owner });
 * ```
 */
export class ResumableSseResponder {
  /** Emits once, at shutdown: every reader's connection ends then (and any opened after it, at once). */
  private readonly closing = new ReplaySubject<void>(1);

  constructor(
    private readonly streams: ResumableStreams,
    private readonly config: ClaudeStreamConfig,
    private readonly logFailure: (error: unknown) => void,
    private readonly logger: Logger,
  ) {}

  /**
   * @param method The service method, for error messages.
   * @param start Starts the call (subscribed once, at once).
   * @param opts The call's SSE options and its owner.
   */
  async respond(
    method: string,
    start: (stopped: StoppedBy) => Observable<ClaudeRxEvent>,
    opts: SseResponseOptions & { readonly owner?: string | undefined },
  ): Promise<Observable<MessageEvent>> {
    const { lastEventId, signal, owner, events, subscribeTimeoutMs = this.config.subscribeTimeoutMs } = opts;
    const heartbeatMs = this.heartbeatFor(opts);
    if (lastEventId !== undefined && typeof lastEventId !== 'string') {
      throw new TypeError(`ClaudeStreamService.${method}: lastEventId must be a string, got ${typeof lastEventId}`);
    }
    if (lastEventId) return this.resume(lastEventId, { owner, signal, heartbeatMs });
    const frames = toSseFrames({ events: events ?? this.config.sse.events }, `ClaudeStreamService.${method}`);
    const stream = await this.refusalsAnswered(() => this.streams.create({ owner }));
    let running = false;
    const stopped: StoppedBy = {};
    // Logged once here, whoever reads; a client that left during the setup is no failure.
    const events$ = start(stopped).pipe(
      tap({ error: (error: unknown) => (running || !signal?.aborted ? this.logFailure(error) : undefined) }),
    );
    let answered: Observable<SseFrame>;
    try {
      // Framed as they come (see `awaitFirstEvent`): events that wait for the producer keep their wire data.
      answered = await awaitFirstEvent(events$, {
        signal,
        subscribeTimeoutMs,
        project: frames,
        isAnswer: (event) => !isRunToolsMarker(event),
      });
    } catch (error) {
      // Nothing was stored: the stream ends with no event, and its owner's slot is free again.
      await stream.discard().catch(() => undefined);
      if (signal?.aborted) throw error;
      throw httpExceptionFor(error);
    }
    running = true;
    stream.produce(answered, { onStopped: (reason) => (stopped.reason = reason) });
    return this.reader(stream.read(0), heartbeatMs);
  }

  /**
   * The events after `lastEventId`, by the answer table: 200 and the events, or an `HttpException`: 204 after the
   * final event (or without resume), 404 unknown, expired or another owner's, 400 malformed.
   */
  async resume(
    lastEventId: string,
    opts: {
      readonly owner?: string | undefined;
      readonly signal?: AbortSignal | undefined;
      readonly heartbeatMs?: number | false;
    },
  ): Promise<Observable<MessageEvent>> {
    const { owner, signal } = opts;
    const heartbeatMs = this.heartbeatFor(opts);
    let events$: Observable<SseMessage>;
    try {
      events$ = await this.refusalsAnswered(() => this.streams.resume(lastEventId, { owner }), lastEventId);
    } catch (error) {
      // An answer of the table, or a misuse (a bad owner): as it is.
      if (error instanceof HttpException || error instanceof TypeError) throw error;
      // The store cannot be read (Redis is down): one `error` event, with the id the client had, so that it may try
      // again later from there; never a silent gap, never the store's own message.
      const { type, message, retryable } = describeFailure(new StreamLostError());
      const data: SseErrorData = { type, message, retryable };
      return of<MessageEvent>({ id: lastEventId, type: 'error', data: JSON.stringify(data) });
    }
    // The client left while the store was asked: nobody will subscribe.
    signal?.throwIfAborted();
    return this.reader(events$, heartbeatMs);
  }

  /**
   * Ends every reader's connection now, and any opened later at once: at shutdown the clients reconnect, to an
   * instance that shares the store. Their streams run on.
   */
  endReaders(): void {
    this.closing.next();
  }

  /**
   * Waits until no stream is produced here any more, or `drainMs` has passed.
   *
   * @returns Whether every stream ended in time.
   */
  async drain(drainMs: number): Promise<boolean> {
    const deadline = Date.now() + drainMs;
    while (this.streams.producing > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return true;
  }

  /** What a request gets of a stream: its events, heartbeats in the silences, until its end or the shutdown. */
  private reader(events$: Observable<SseMessage>, heartbeatMs: number | false): Observable<MessageEvent> {
    return events$.pipe(sseHeartbeat<SseMessage>(heartbeatMs), takeUntil(this.closing));
  }

  /** `ResumableStreams.stop`, a malformed id answered with 400. */
  async stop(id: string, owner: string | undefined): Promise<boolean> {
    return this.refusalsAnswered(() => this.streams.stop(id, { owner }));
  }

  private heartbeatFor(opts: { readonly heartbeatMs?: number | false | undefined }): number | false {
    return checkToSseOptions({
      ...this.config.sse,
      ...(opts.heartbeatMs === undefined ? {} : { heartbeatMs: opts.heartbeatMs }),
    });
  }

  /** Runs `action`, turning the refusals of `ResumableStreams` into the answer table's HTTP exceptions. */
  private async refusalsAnswered<T>(action: () => Promise<T>, lastEventId?: string): Promise<T> {
    try {
      return await action();
    } catch (error) {
      const refusal = resumeExceptionFor(error, lastEventId);
      if (refusal) throw refusal;
      // A misuse (a bad owner) is the caller's; anything else is the store's failure, said without its message.
      if (error instanceof TypeError) throw error;
      this.logger.warn(`Claude resumable stream store failed: ${error instanceof Error ? error.name : typeof error}`);
      throw error;
    }
  }
}
