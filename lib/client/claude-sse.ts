import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Observable } from 'rxjs';
import type { SseErrorData, SseStoppedData } from '../sse/sse-frame.js';
import { ClaudeSseConnectionError, ClaudeSseError, ClaudeSseHttpError } from './client-errors.js';
import { CLIENT_EVENT_NAMES, type ClaudeClientEvent } from './client-events.js';

/**
 * One request of `claudeSse`: how, and with what.
 *
 * @example
 * ```ts
 * import type { ClaudeSseRequest } from 'claude-rx/client';
 * const request: ClaudeSseRequest = { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: { q: 'Hi' } };
 * ```
 */
export interface ClaudeSseRequest {
  /** @defaultValue `'GET'`, or `'POST'` when there is a `body` */
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as JSON; a string is sent as it is. */
  readonly body?: unknown;
}

/**
 * Options of `claudeSse`.
 *
 * @example
 * ```ts
 * import type { ClaudeSseOptions } from 'claude-rx/client';
 *
 * const options: ClaudeSseOptions = {
 *   body: { prompt: 'Hello' },
 *   resume: { url: '/api/chat/resume' },
 *   reconnect: { maxAttempts: 8 },
 *   onReconnecting: ({ attempt }) => (banner.textContent = attempt ? 'reconnecting…' : ''),
 * };
 * ```
 */
export interface ClaudeSseOptions extends ClaudeSseRequest {
  /**
   * Where a dropped connection is resumed, with the last event's id in a `Last-Event-ID` header; `false`: never.
   * @defaultValue the first request again (URL, method, headers, body): a route that passes `Last-Event-ID` to `sse()`
   *   answers it as a resume, never as a new answer
   */
  readonly resume?: (ClaudeSseRequest & { readonly url: string }) | false;
  /** How reconnects are spaced: `baseDelayMs`, doubled per attempt up to `maxDelayMs`; at most `maxAttempts` in a row. */
  readonly reconnect?: {
    /** @defaultValue 6 */
    readonly maxAttempts?: number;
    /** @defaultValue 500 */
    readonly baseDelayMs?: number;
    /** @defaultValue 8000 */
    readonly maxDelayMs?: number;
  };
  /** Told before each reconnect (a page shows "reconnecting…"), then with `attempt: 0` once a reconnect is answered. */
  readonly onReconnecting?: (info: { readonly attempt: number; readonly delayMs: number }) => void;
  /** Told the stream's id once it is known (from the first resumable event id): what `stopClaudeStream` takes. */
  readonly onStreamId?: (streamId: string) => void;
  /** Told why the stream was stopped (`stop`, or `no_reader`), just before the Observable completes. */
  readonly onStopped?: (reason: SseStoppedData['reason']) => void;
  /** `credentials` of every request. @defaultValue `'same-origin'` */
  readonly credentials?: RequestCredentials;
  /** The `fetch` to use. @defaultValue `globalThis.fetch` */
  readonly fetch?: typeof fetch;
}

/** `<stream id>.<position>`: the event ids of a resumable stream. */
const RESUMABLE_ID = /^([\w-]{22})\.(\d{1,15})$/;

/** How one connection ended: `true` when nothing more is to be done (the stream ended, the subscriber left). */
type Ending = true | { readonly error: unknown };

/** The body and headers of a request. */
function requestInit(request: ClaudeSseRequest, options: ClaudeSseOptions, signal: AbortSignal, lastId?: string) {
  const { body } = request;
  const json = body !== undefined && typeof body !== 'string';
  return {
    method: request.method ?? (body === undefined ? 'GET' : 'POST'),
    credentials: options.credentials ?? 'same-origin',
    headers: {
      accept: 'text/event-stream',
      ...(json && { 'content-type': 'application/json' }),
      ...request.headers,
      ...(lastId !== undefined && { 'last-event-id': lastId }),
    },
    body: json ? JSON.stringify(body) : body,
    signal,
  } satisfies RequestInit;
}

/** An HTTP error answer as a `ClaudeSseHttpError`: its JSON body's `message` and `type` when it has them. */
async function httpError(response: Response): Promise<ClaudeSseHttpError> {
  const body = (await response.json().catch(() => ({}))) as { type?: unknown; message?: unknown };
  const message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
  const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
  return new ClaudeSseHttpError(
    response.status,
    typeof body.type === 'string' ? body.type : undefined,
    typeof message === 'string' ? message : `The server answered ${response.status}`,
    retryAfter >= 0 ? retryAfter * 1000 : undefined,
  );
}

/**
 * A claude-rx SSE endpoint (`ClaudeStreamService.sse()` or `sseRunTools()`, `serveSse`) as an Observable of the typed
 * events the server streamed, in a browser (no Node built-in, no SDK at run time) or anywhere `fetch` runs. The
 * operators of `claude-rx/client` (`textOnly()`, `accumulateMessage()`, `tokenUsage()`...) take them. The wire format
 * it reads is `docs/sse-wire-format.md`, version `SSE_WIRE_VERSION`.
 *
 * Cold: each subscription sends the request. A dropped connection of a resumable stream (event ids
 * `<stream id>.<position>`) is resumed with `Last-Event-ID`, to `resume` (by default the same request), with backoff
 * and a limit, and no event is delivered twice. A stream that is not resumable is never sent again: that would be a
 * new, paid answer.
 *
 * - next: each stream event, and the wire's markers (`stream_restart`, `turn_start`, `turn_end`, `tool_result`);
 * - complete: on `done`; on `stopped` (after `onStopped`); when a resume is answered 204 (the stream had ended);
 * - error: `ClaudeSseError` for an `error` event; `ClaudeSseHttpError` for an HTTP error answer (the first request's,
 *   or a resume refused with a 4xx such as 404: the stream is gone); `ClaudeSseConnectionError` when the connection was
 *   lost for good;
 * - unsubscribe: aborts the request in flight (the server then aborts the stream, or keeps it for its grace).
 *
 * @param url The endpoint.
 * @param options The request (`method`, `headers`, `body`), `resume`, `reconnect`, and the callbacks.
 * @returns A cold Observable of the stream's events. Throws a `TypeError` at once for a bad `url` or `reconnect`.
 *
 * @example
 * ```ts
 * import { claudeSse, textOnly } from 'claude-rx/client';
 *
 * let streamId: string | undefined;
 * claudeSse('/api/chat', { body: { prompt: 'Tell me about rivers' }, onStreamId: (id) => (streamId = id) })
 *   .pipe(textOnly())
 *   .subscribe({ next: (text) => output.append(text), error: (error) => showError(error) });
 * ```
 */
export function claudeSse(url: string, options: ClaudeSseOptions = {}): Observable<ClaudeClientEvent> {
  if (typeof url !== 'string' || !url) throw new TypeError('claudeSse: url must be a non-empty string');
  const { maxAttempts = 6, baseDelayMs = 500, maxDelayMs = 8_000 } = options.reconnect ?? {};
  for (const n of [maxAttempts, baseDelayMs, maxDelayMs]) {
    if (!(n >= 0)) throw new TypeError('claudeSse: reconnect values must be numbers of at least 0');
  }
  const first = { ...options, url };
  const resume = options.resume ?? first;

  return new Observable<ClaudeClientEvent>((subscriber) => {
    const controller = new AbortController();
    const fetchImpl = options.fetch ?? fetch;
    let streamId: string | undefined;
    let lastId: string | undefined;
    let lastPosition = -1;
    let timer: ReturnType<typeof setTimeout> | undefined;

    /** Hands out one wire event; true once the stream has ended. */
    const onEvent = ({ id, event, data }: EventSourceMessage): boolean => {
      const at = id === undefined ? null : RESUMABLE_ID.exec(id);
      if (at) {
        // A resume replays from the id it was given on: what was handed out already is not handed out again.
        if (at[1] === streamId && +at[2]! <= lastPosition) return false;
        if (streamId === undefined) {
          streamId = at[1]!;
          options.onStreamId?.(streamId);
        }
        lastPosition = +at[2]!;
      }
      if (id !== undefined) lastId = id;
      if (event === 'done') {
        subscriber.complete();
      } else if (event === 'stopped') {
        options.onStopped?.((JSON.parse(data) as SseStoppedData).reason);
        subscriber.complete();
      } else if (event === 'error') {
        subscriber.error(new ClaudeSseError(JSON.parse(data) as SseErrorData));
      } else {
        // A name this version does not know (a newer server's) is left out.
        if (CLIENT_EVENT_NAMES.has(event!)) subscriber.next(JSON.parse(data) as ClaudeClientEvent);
        return false;
      }
      return true;
    };

    /** One request, read to its end. */
    const connect = async (request: ClaudeSseRequest & { readonly url: string }): Promise<Ending> => {
      let ended = false;
      try {
        const response = await fetchImpl(request.url, requestInit(request, options, controller.signal, lastId));
        if (response.status === 204) {
          // Nothing (more) to read: a resume after the stream's final event.
          subscriber.complete();
          return true;
        }
        if (!response.ok || !response.body) {
          const error = await httpError(response);
          const { status } = error;
          // The first answer, or a resume refused for good (the stream is gone): told as it is.
          if (lastId === undefined || (status < 500 && status !== 408 && status !== 429)) {
            subscriber.error(error);
            return true;
          }
          return { error };
        }
        if (lastId !== undefined) options.onReconnecting?.({ attempt: 0, delayMs: 0 });
        const parser = createParser({ onEvent: (message) => (ended ||= !subscriber.closed && onEvent(message)) });
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        try {
          while (!ended && !subscriber.closed) {
            const { done, value } = await reader.read();
            if (done) break;
            parser.feed(value);
          }
        } finally {
          // Ended, or the subscriber left: nothing more is wanted from this body.
          void reader.cancel().catch(() => undefined);
        }
      } catch (error) {
        return ended || subscriber.closed || { error };
      }
      return ended || subscriber.closed || { error: undefined };
    };

    const run = async () => {
      let ending = await connect(first);
      let attempt = 0;
      while (ending !== true && !subscriber.closed) {
        const { error } = ending;
        if (streamId === undefined || resume === false) {
          // Not resumable (no resumable id seen, or `resume: false`): sending it again would be a new, paid answer.
          throw error instanceof ClaudeSseHttpError
            ? error
            : new ClaudeSseConnectionError('The connection was lost, and this stream cannot be resumed', 0, error);
        }
        if (++attempt > maxAttempts) {
          throw new ClaudeSseConnectionError(
            `The connection was lost; ${maxAttempts} reconnects failed`,
            maxAttempts,
            error,
          );
        }
        const wanted = error instanceof ClaudeSseHttpError ? (error.retryAfterMs ?? 0) : 0;
        const delayMs = Math.max(wanted, Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
        options.onReconnecting?.({ attempt, delayMs });
        await new Promise((resolve) => (timer = setTimeout(resolve, delayMs)));
        if (subscriber.closed) return;
        const before = lastPosition;
        ending = await connect(resume);
        // A reconnect that brought events starts the count again.
        if (lastPosition > before) attempt = 0;
      }
    };

    run().catch((error: unknown) => subscriber.error(error));
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  });
}
