import { APIError } from '@anthropic-ai/sdk';
import { Logger, type MessageEvent } from '@nestjs/common';
import type { Observable, OperatorFunction } from 'rxjs';
import { describeFailure, isRunToolsMarker, type ClaudeRxEvent } from '../lib/index.js';
import { awaitFirstEvent } from './await-first-event.js';
import type { ClaudeSseCallOptions } from './claude-call-options.js';
import type { ClaudeStreamConfig } from './claude-stream.options.js';
import { ClaudeStreamNotResumableException } from './claude-stream-not-resumable.exception.js';
import { httpExceptionFor } from './http-exception-for.js';
import { toSse } from './to-sse.js';

/** runTools' markers are no answer of the upstream's. */
const isAnswerEvent = (event: ClaudeRxEvent): boolean => !isRunToolsMarker(event);

/** The options of a call that decide how it is answered over SSE. */
export type SseResponseOptions = Pick<
  ClaudeSseCallOptions,
  'signal' | 'heartbeatMs' | 'events' | 'subscribeTimeoutMs' | 'lastEventId'
>;

/**
 * How `sse()` and `sseRunTools()` answer an `@Sse()` route: refuse a reconnect (`Last-Event-ID`) with 204, start the
 * call, wait for the upstream's first answer (so that a failure before it is a real HTTP status), then hand Nest the
 * `MessageEvent`s of `toSse` with the module's SSE settings under the call's. Failures are logged once, as one
 * warning line without the upstream's message or any header; a client that left is no failure.
 *
 * @example
 * ```ts
 * const responder = new SseResponder(config, new Logger('ClaudeStreamService'));
 * return responder.respond('sse', () => service.stream(params, callOptions), opts);
 * ```
 */
export class SseResponder {
  /** `toSse` with the module's settings, made at the first call that has none of its own. */
  private moduleProject: OperatorFunction<ClaudeRxEvent, MessageEvent> | undefined;

  constructor(
    private readonly config: ClaudeStreamConfig,
    private readonly logger: Logger,
  ) {}

  /**
   * @param method The service method, for error messages.
   * @param start Starts the call (subscribed once, at once).
   * @param opts The call's SSE options.
   * @returns The `MessageEvent`s to return from the handler, once the upstream has answered.
   */
  async respond(
    method: string,
    start: () => Observable<ClaudeRxEvent>,
    opts: SseResponseOptions,
  ): Promise<Observable<MessageEvent>> {
    const { heartbeatMs, events, subscribeTimeoutMs = this.config.subscribeTimeoutMs, lastEventId, signal } = opts;
    if (lastEventId !== undefined && typeof lastEventId !== 'string') {
      throw new TypeError(`ClaudeStreamService.${method}: lastEventId must be a string, got ${typeof lastEventId}`);
    }
    // An EventSource reconnecting (after a drop, or after `done`: it reconnects by design) must never start a new,
    // paid generation. Nothing here can be resumed: 204 tells it to stop.
    if (lastEventId) throw new ClaudeStreamNotResumableException(lastEventId);
    if (typeof subscribeTimeoutMs !== 'number' || !Number.isFinite(subscribeTimeoutMs) || subscribeTimeoutMs <= 0) {
      throw new TypeError(
        `ClaudeStreamService.${method}: subscribeTimeoutMs must be a positive number, got ${String(subscribeTimeoutMs)}`,
      );
    }
    // The module's settings, unless the call has its own: the operator is then made once, not per call.
    const project =
      heartbeatMs === undefined && events === undefined
        ? (this.moduleProject ??= toSse(this.config.sse))
        : toSse({
            ...this.config.sse,
            ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
            ...(events === undefined ? {} : { events }),
          });
    // Outside the `try`: a bad option of the call is the caller's `TypeError`, not an upstream failure.
    const events$ = start();
    try {
      // runTools' markers (the first `turn_start` comes before the request is even sent) are no answer: the promise
      // waits for the upstream's first event.
      return await awaitFirstEvent(events$, {
        signal,
        subscribeTimeoutMs,
        project,
        isAnswer: isAnswerEvent,
        // A client that left (its signal aborted) is no upstream failure: nothing to warn about.
        onError: (error) => (signal?.aborted ? undefined : this.logFailure(error)),
      });
    } catch (error) {
      // The caller's own abort (the client left) is theirs to interpret; everything else is the upstream's failure.
      if (signal?.aborted) throw error;
      throw httpExceptionFor(error);
    }
  }

  /** Logs a failure of a call as one warning line: its kind, class, status and request id; never its message. */
  logFailure(error: unknown): void {
    const { type } = describeFailure(error);
    const detail =
      error instanceof APIError
        ? `${error.name} (status ${String(error.status)}, type ${String(error.type)}, request-id ${String(error.requestID)})`
        : error instanceof Error
          ? error.name
          : typeof error;
    this.logger.warn(`Claude stream failed: ${type}: ${detail}`);
  }
}
