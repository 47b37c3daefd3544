import type { ClaudePlatform } from './messages-endpoint.js';

/**
 * One request the fake server received, and what became of its response.
 *
 * The object is live: `closedByClient`, `closedAt`, `completed` and `eventsWritten` change while the response is
 * served, and `closed` resolves once it is over, so a test can await the outcome and then assert on it.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { FakeClaudeServer, streamReply, textMessage } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(streamReply(textMessage('Hello'), { stallAfter: 2 }));
 * const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
 * const stream = await client.messages.create({ model: 'm', max_tokens: 9, messages: [], stream: true });
 * stream.controller.abort();
 * const request = server.lastRequest!;
 * await request.closed;
 * // request.closedByClient === true, request.eventsWritten === 2
 * ```
 */
export interface RecordedRequest {
  /** Position in `FakeClaudeServer.requests`, from 0 (restarts after `reset()`). */
  readonly index: number;
  /** The HTTP method, e.g. `POST`. */
  readonly method: string;
  /** The request target: path and query string, e.g. `/v1/messages` or `/v1/messages?beta=true`. */
  readonly path: string;
  /**
   * The platform whose Messages endpoint the request named (`anthropic` for `/v1/messages`, `vertex` for
   * `…/publishers/anthropic/models/{model}:streamRawPredict`, `foundry` for `/anthropic/v1/messages`); `undefined`
   * when the method or path is none of them (the request was answered 404).
   */
  readonly platform: ClaudePlatform | undefined;
  /**
   * The model asked for: on Vertex the one in the path (the Vertex SDK moves it there from the body), elsewhere the
   * body's `model`; `undefined` when there is none or it is not a string.
   */
  readonly model: string | undefined;
  /** The headers, names lower-cased, repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body parsed as JSON when it is a JSON object; `undefined` otherwise (see `rawBody`). */
  readonly body: Readonly<Record<string, unknown>> | undefined;
  /** The body as received, decoded as UTF-8. */
  readonly rawBody: string;
  /** `performance.now()` when the request arrived. */
  readonly receivedAt: number;
  /** The `request-id` header (and error `request_id`) the server answered, or will answer, with. */
  readonly requestId: string;
  /** True if the client closed the connection before the response was complete (not set by server-side resets or `close()`). */
  readonly closedByClient: boolean;
  /** `performance.now()` when the exchange ended: the response completed or the connection closed. */
  readonly closedAt?: number;
  /** True once the whole response has been written. */
  readonly completed: boolean;
  /** SSE frames written so far (a mid-stream `error` event included; for recorded replies, frames of the recording). */
  readonly eventsWritten: number;
  /** Resolves when the response completes or the connection closes, whichever comes first. Never rejects. */
  readonly closed: Promise<void>;
}
