import { readFileSync } from 'node:fs';

import type Anthropic from '@anthropic-ai/sdk';

import { API_ERRORS } from './api-errors.js';

/**
 * An event the fake server can stream: any raw Messages API event, a `ping`, or an event type the SDK does not
 * know yet (its `type` names the SSE `event:` line, the whole object is the `data:` line).
 *
 * @example
 * ```ts
 * import { streamReply, textMessage, type FakeStreamEvent } from 'claude-rx/testing';
 *
 * const [start, ...rest] = textMessage('Hi');
 * const events: FakeStreamEvent[] = [start!, { type: 'future_event', detail: 1 }, ...rest];
 * const reply = streamReply(events);
 * ```
 */
export type FakeStreamEvent =
  | Anthropic.Messages.RawMessageStreamEvent
  | { readonly type: 'ping' }
  | { readonly type: string; readonly [key: string]: unknown };

/**
 * The API error a {@link streamReply} sends as a mid-stream `event: error`.
 *
 * @example
 * ```ts
 * import type { FakeApiError } from 'claude-rx/testing';
 *
 * const overloaded: FakeApiError = { type: 'overloaded_error', message: 'Overloaded' };
 * ```
 */
export interface FakeApiError {
  /** The error's `type`, e.g. `overloaded_error`. */
  readonly type: string;
  /** The error's human-readable `message`. */
  readonly message: string;
}

/**
 * Options of {@link streamReply}. At most one of `errorAfter`, `stallAfter` and `resetAfter` may be set; their
 * counts are of events actually written (the `ping` included, a dropped `message_stop` not).
 *
 * @example
 * ```ts
 * import { streamReply, textMessage, type StreamReplyOptions } from 'claude-rx/testing';
 *
 * const options: StreamReplyOptions = { delayMs: 5, stallAfter: 3 };
 * const reply = streamReply(textMessage('Hello'), options);
 * ```
 */
export interface StreamReplyOptions {
  /** Milliseconds to wait before each event (headers go out at once). @defaultValue 0 */
  readonly delayMs?: number;
  /** Send a `ping` after the first `content_block_start` (or after `message_start` if there is none), as the API does. @defaultValue false */
  readonly pingAfterStart?: boolean;
  /** After this many events, send an `event: error` with this error and end the response. */
  readonly errorAfter?: { readonly events: number; readonly error: FakeApiError };
  /** After this many events, write nothing more but keep the connection open until the client or `close()` ends it. */
  readonly stallAfter?: number;
  /** After this many events (flushed to the client), destroy the socket mid-body: the SDK throws `TypeError: terminated`. */
  readonly resetAfter?: number;
  /** Leave out `message_stop` and end the response cleanly, like a truncated stream. @defaultValue false */
  readonly omitMessageStop?: boolean;
  /** Response headers added to (or replacing) the defaults. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Split every write into chunks of this many bytes, yielding to the event loop between them, so that the client's SSE decoder sees frames (and UTF-8 sequences) cut anywhere. */
  readonly chunkBytes?: number;
}

/**
 * A streamed `200 text/event-stream` reply, built by {@link streamReply}.
 *
 * @example
 * ```ts
 * import { streamReply, textMessage, type StreamReply } from 'claude-rx/testing';
 *
 * const reply: StreamReply = streamReply(textMessage('Hi'));
 * ```
 */
export interface StreamReply {
  readonly kind: 'stream';
  readonly events: readonly FakeStreamEvent[];
  readonly options: StreamReplyOptions;
}

/**
 * An HTTP error reply with the API's JSON error body, built by {@link errorReply}.
 *
 * @example
 * ```ts
 * import { errorReply, type ErrorReply } from 'claude-rx/testing';
 *
 * const reply: ErrorReply = errorReply(529);
 * ```
 */
export interface ErrorReply {
  readonly kind: 'error';
  readonly status: number;
  readonly error: FakeApiError;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A reply serving recorded SSE bytes untouched, built by {@link recordedReply} or {@link recordedFile}.
 *
 * @example
 * ```ts
 * import { recordedReply, type RecordedReply } from 'claude-rx/testing';
 *
 * const reply: RecordedReply = recordedReply('event: message_stop\ndata: {"type":"message_stop"}\n\n');
 * ```
 */
export interface RecordedReply {
  readonly kind: 'recorded';
  readonly body: Uint8Array;
  readonly options: RecordedReplyOptions;
}

/**
 * Options of {@link recordedReply} and {@link recordedFile}.
 *
 * @example
 * ```ts
 * import { recordedFile, type RecordedReplyOptions } from 'claude-rx/testing';
 *
 * const options: RecordedReplyOptions = { delayMs: 10 };
 * const reply = recordedFile('spec/fixtures/recorded/basic_response.sse', options);
 * ```
 */
export interface RecordedReplyOptions {
  /** Milliseconds to wait before each frame (the bytes up to and including each blank line). @defaultValue 0 */
  readonly delayMs?: number;
  /** Split every write into chunks of this many bytes, as in {@link StreamReplyOptions.chunkBytes}. */
  readonly chunkBytes?: number;
  /** Response headers added to (or replacing) the defaults. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A reply that destroys the connection before sending any header; the SDK throws `APIConnectionError`.
 *
 * @example
 * ```ts
 * import { resetBeforeHeaders, type ResetBeforeHeadersReply } from 'claude-rx/testing';
 *
 * const reply: ResetBeforeHeadersReply = resetBeforeHeaders();
 * ```
 */
export interface ResetBeforeHeadersReply {
  readonly kind: 'reset-before-headers';
}

/**
 * A reply that never answers, built by {@link stallBeforeHeaders}.
 *
 * @example
 * ```ts
 * import { stallBeforeHeaders, type StallBeforeHeadersReply } from 'claude-rx/testing';
 *
 * const reply: StallBeforeHeadersReply = stallBeforeHeaders();
 * ```
 */
export interface StallBeforeHeadersReply {
  readonly kind: 'stall-before-headers';
}

/**
 * What the fake server answers to one `POST /v1/messages`. Build replies with the constructors
 * ({@link streamReply}, {@link errorReply}, {@link recordedReply}, {@link recordedFile}, {@link resetBeforeHeaders},
 * {@link stallBeforeHeaders}); they are immutable and can be served any number of times.
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, errorReply, streamReply, textMessage, type FakeReply } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * const replies: FakeReply[] = [errorReply(529), streamReply(textMessage('Second time lucky'))];
 * server.enqueue(...replies);
 * ```
 */
export type FakeReply = StreamReply | ErrorReply | RecordedReply | ResetBeforeHeadersReply | StallBeforeHeadersReply;

/**
 * A streamed reply: `200` with `content-type: text/event-stream; charset=utf-8`, `cache-control: no-cache` and a
 * fresh `request-id`, then one `event: <type>\ndata: <json>\n\n` frame per event, with optional faults.
 *
 * A request without `stream: true` gets the non-streaming answer instead: the message the events build, as JSON
 * (an `errorAfter` becomes the matching HTTP error; `stallAfter`/`resetAfter` stall or reset before the headers).
 *
 * @param events - the events, in order; copied, so later changes to the array do not leak in.
 * @param options - pacing and faults.
 * @returns the reply, for `FakeClaudeServer.enqueue` or `respondWith`.
 * @throws TypeError if an option is out of range, or more than one of `errorAfter`, `stallAfter`, `resetAfter` is set.
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, streamReply, textMessage } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(
 *   streamReply(textMessage('Hello there'), { errorAfter: { events: 3, error: { type: 'overloaded_error', message: 'Overloaded' } } }),
 * );
 * ```
 */
export function streamReply(events: readonly FakeStreamEvent[], options: StreamReplyOptions = {}): StreamReply {
  checkNonNegative(options.delayMs, 'delayMs');
  checkCount(options.stallAfter, 'stallAfter');
  checkCount(options.resetAfter, 'resetAfter');
  checkCount(options.errorAfter?.events, 'errorAfter.events');
  checkPositiveInteger(options.chunkBytes, 'chunkBytes');
  const faults = [options.errorAfter, options.stallAfter, options.resetAfter].filter((fault) => fault !== undefined);
  if (faults.length > 1) throw new TypeError('streamReply: set at most one of errorAfter, stallAfter and resetAfter');
  for (const event of events) {
    if (typeof event.type !== 'string' || /[\r\n]/.test(event.type) || event.type === '') {
      throw new TypeError(`streamReply: every event needs a single-line string type, got ${JSON.stringify(event)}`);
    }
  }
  return { kind: 'stream', events: [...events], options: { ...options } };
}

/**
 * An HTTP error reply: `status` with the API's body `{"type":"error","error":{"type","message"},"request_id"}`,
 * `content-type: application/json`, `request-id`, and `retry-after` / `retry-after-ms` when given.
 *
 * The error type defaults by status (400 `invalid_request_error`, 401 `authentication_error`, 403
 * `permission_error`, 404 `not_found_error`, 413 `request_too_large`, 429 `rate_limit_error`, 500 `api_error`,
 * 529 `overloaded_error`, others `api_error`). Like the API, it sends no `x-should-retry` header, so the SDK's own
 * retries apply to 408/409/429/5xx: create test clients with `maxRetries: 0` unless retries are under test.
 *
 * @param status - the HTTP status.
 * @param options - error type and message, extra headers, retry hints.
 * @returns the reply, for `FakeClaudeServer.enqueue` or `respondWith`.
 * @throws TypeError if `status` is not an HTTP status or a retry hint is negative.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { FakeClaudeServer, errorReply } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(errorReply(429, { retryAfterMs: 250, retryAfterSeconds: 1 }));
 * const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
 * // client.messages.create(...) rejects with an Anthropic.RateLimitError
 * ```
 */
export function errorReply(
  status: number,
  options: {
    readonly type?: string;
    readonly message?: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** Sent as `retry-after-ms`. */
    readonly retryAfterMs?: number;
    /** Sent as `retry-after`: seconds, or an HTTP date string. */
    readonly retryAfterSeconds?: number | string;
  } = {},
): ErrorReply {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`errorReply: status must be an HTTP status, got ${String(status)}`);
  }
  checkNonNegative(options.retryAfterMs, 'retryAfterMs');
  if (typeof options.retryAfterSeconds === 'number') checkNonNegative(options.retryAfterSeconds, 'retryAfterSeconds');
  const fallback = API_ERRORS.get(status) ?? { type: 'api_error', message: `HTTP ${status}` };
  const headers: Record<string, string> = {};
  if (options.retryAfterSeconds !== undefined) headers['retry-after'] = String(options.retryAfterSeconds);
  if (options.retryAfterMs !== undefined) headers['retry-after-ms'] = String(options.retryAfterMs);
  return {
    kind: 'error',
    status,
    error: { type: options.type ?? fallback.type, message: options.message ?? fallback.message },
    headers: { ...headers, ...options.headers },
  };
}

/**
 * A reply serving a recorded SSE body exactly as given (`200`, `text/event-stream`): no parsing, no
 * re-serialisation, padding and missing trailing blank lines kept.
 *
 * @param sse - the body; a string is encoded as UTF-8.
 * @param options - pacing per frame, chunking, extra headers.
 * @returns the reply, for `FakeClaudeServer.enqueue` or `respondWith`.
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, recordedReply } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(recordedReply('event: ping\ndata: {"type": "ping"}\n\n', { delayMs: 5 }));
 * ```
 */
export function recordedReply(sse: string | Uint8Array, options: RecordedReplyOptions = {}): RecordedReply {
  checkNonNegative(options.delayMs, 'delayMs');
  checkPositiveInteger(options.chunkBytes, 'chunkBytes');
  const body = typeof sse === 'string' ? new TextEncoder().encode(sse) : Uint8Array.from(sse);
  return { kind: 'recorded', body, options: { ...options } };
}

/**
 * A {@link recordedReply} of a file's bytes, read now so that a wrong path fails where the test scripts it.
 *
 * @param path - the `.sse` file.
 * @param options - as for {@link recordedReply}.
 * @returns the reply, for `FakeClaudeServer.enqueue` or `respondWith`.
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, recordedFile } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(recordedFile('spec/fixtures/recorded/tool_use_response.sse'));
 * ```
 */
export function recordedFile(path: string, options: RecordedReplyOptions = {}): RecordedReply {
  return recordedReply(readFileSync(path), options);
}

/**
 * A reply that destroys the socket without answering: the SDK sees a connection error before any response.
 *
 * @returns the reply, for `FakeClaudeServer.enqueue` or `respondWith`.
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, resetBeforeHeaders } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(resetBeforeHeaders());
 * // client.messages.create(...) rejects with an Anthropic.APIConnectionError
 * ```
 */
export function resetBeforeHeaders(): ResetBeforeHeadersReply {
  return { kind: 'reset-before-headers' };
}

/**
 * A reply that never answers: the request hangs until the client aborts or `FakeClaudeServer.close()`.
 *
 * @returns the reply, for `FakeClaudeServer.enqueue` or `respondWith`.
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, stallBeforeHeaders } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(stallBeforeHeaders());
 * // a client timeout or abort ends it; server.lastRequest?.closedByClient becomes true
 * ```
 */
export function stallBeforeHeaders(): StallBeforeHeadersReply {
  return { kind: 'stall-before-headers' };
}

function checkNonNegative(value: number | undefined, name: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw new TypeError(`${name} must be a non-negative number, got ${String(value)}`);
  }
}

function checkCount(value: number | undefined, name: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
    throw new TypeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
}

function checkPositiveInteger(value: number | undefined, name: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
    throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  }
}
