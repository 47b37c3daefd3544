import type { ServerResponse } from 'node:http';
import type { Observable, Subscription } from 'rxjs';
import { describeFailure } from './describe-failure.js';
import { encodeSse } from './encode-sse.js';
import type { SseComment, SseErrorData, SseMessage } from './sse-frame.js';
import { sseHeartbeat } from './sse-heartbeat.js';

/**
 * Options of `serveSse`.
 *
 * @example
 * ```ts
 * import type { ServeSseOptions } from 'claude-rx';
 * const options: ServeSseOptions = { heartbeatMs: 10_000, headers: { 'access-control-allow-origin': 'https://app.example' } };
 * ```
 */
export interface ServeSseOptions {
  /** Milliseconds of silence before a `: heartbeat` comment (`false`: none). @defaultValue 15000 */
  readonly heartbeatMs?: number | false;
  /** More response headers (the SSE ones are set already). @defaultValue none */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a proxy must not do to an SSE response: cache it, or buffer it (nginx reads `x-accel-buffering`). */
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

/**
 * Answers a `node:http` request with SSE: the status line and headers, then each message (`encodeSse`) as it comes,
 * heartbeats in the silences; it ends the response when the messages complete. A client that goes away unsubscribes
 * them (for a plain stream that aborts the upstream request; for a resumable one it detaches the reader). Should the
 * messages fail, one `error` event (`SseErrorData`, a fixed message) is written, then the response ends.
 *
 * @param response The response to write to; nothing may have been written yet.
 * @param messages `SseMessage`s (with ids): `ResumableStream.read()`, `ResumableStreams.resume()`, or frames numbered
 *   by you.
 * @param options `heartbeatMs`, `headers`.
 * @returns The subscription (ended by the client's leaving, or by you).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { ResumableStreamError, ResumableStreams, serveSse } from 'claude-rx';
 *
 * const streams = new ResumableStreams();
 * createServer(async (req, res) => {
 *   try {
 *     serveSse(res, await streams.resume(String(req.headers['last-event-id'])));
 *   } catch (error) {
 *     // 400 malformed, 404 unknown, 204 ended: each refusal says its status.
 *     res.writeHead(error instanceof ResumableStreamError ? error.httpStatus : 500).end();
 *   }
 * });
 * ```
 */
export function serveSse(
  response: ServerResponse,
  messages: Observable<SseMessage>,
  options: ServeSseOptions = {},
): Subscription {
  const { heartbeatMs = 15_000, headers = {} } = options;
  const withHeartbeat = sseHeartbeat<SseMessage>(heartbeatMs);
  response.writeHead(200, { ...headers, ...SSE_HEADERS });
  // Sent now, so that the client's `open` (and a proxy's first byte timer) does not wait for the first event.
  response.flushHeaders();
  const subscription = withHeartbeat(messages).subscribe({
    next: (message: SseMessage | SseComment) => void response.write(encodeSse(message)),
    error: (error: unknown) => {
      const { type, message, retryable } = describeFailure(error);
      const data: SseErrorData = { type, message, retryable };
      response.end(`event: error\ndata: ${JSON.stringify(data)}\n\n`);
    },
    complete: () => response.end(),
  });
  // The client may have left already (during the setup): then 'close' has fired and will not again.
  if (response.closed || response.destroyed) subscription.unsubscribe();
  else response.once('close', () => subscription.unsubscribe());
  return subscription;
}
