import type { Logger, MessageEvent } from '@nestjs/common';
import { identity, tap, type Observable } from 'rxjs';
import {
  isRunToolsMarker,
  sseHeartbeat,
  toSseFrames,
  type ClaudeRxEvent,
  type ResumableStreams,
  type SseMessage,
} from '../lib/index.js';
import { awaitFirstEvent } from './await-first-event.js';
import type { ClaudeStreamConfig } from './claude-stream.options.js';
import { httpExceptionFor } from './http-exception-for.js';
import { resumeExceptionFor } from './resume-exception-for.js';
import type { SseResponseOptions } from './sse-responder.js';
import { checkToSseOptions } from './to-sse.js';

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
    start: () => Observable<ClaudeRxEvent>,
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
    // Logged once here, whoever reads; a client that left during the setup is no failure.
    const events$ = start().pipe(
      tap({ error: (error: unknown) => (running || !signal?.aborted ? this.logFailure(error) : undefined) }),
    );
    let answered: Observable<ClaudeRxEvent>;
    try {
      answered = await awaitFirstEvent(events$, {
        signal,
        subscribeTimeoutMs,
        project: identity,
        isAnswer: (event) => !isRunToolsMarker(event),
      });
    } catch (error) {
      // Nothing was stored: the stream ends with no event, and its owner's slot is free again.
      await stream.discard().catch(() => undefined);
      if (signal?.aborted) throw error;
      throw httpExceptionFor(error);
    }
    running = true;
    stream.produce(answered.pipe(frames));
    return stream.read(0).pipe(sseHeartbeat<SseMessage>(heartbeatMs));
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
    const events$ = await this.refusalsAnswered(() => this.streams.resume(lastEventId, { owner }), lastEventId);
    // The client left while the store was asked: nobody will subscribe.
    signal?.throwIfAborted();
    return events$.pipe(sseHeartbeat<SseMessage>(heartbeatMs));
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
      this.logger.warn(`Claude resumable stream store failed: ${error instanceof Error ? error.name : typeof error}`);
      throw error;
    }
  }
}
