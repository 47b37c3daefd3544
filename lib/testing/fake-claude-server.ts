import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

import { errorBody } from './api-errors.js';
import { textMessage } from './event-builders.js';
import { streamReply, type FakeReply } from './fake-reply.js';
import { fakeRequestId } from './ids.js';
import { messagesEndpoint, type MessagesEndpoint } from './messages-endpoint.js';
import type { RecordedRequest } from './recorded-request.js';
import { sendJson, serveReply, type Exchange } from './serve-reply.js';

const HOST = '127.0.0.1';
const SERVED_PATHS =
  'POST /v1/messages, POST /anthropic/v1/messages (Foundry) and ' +
  'POST /projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict or :rawPredict (Vertex)';
const DEFAULT_TEXT = 'Hello from the fake Claude server';
const DEFAULT_WAIT_MS = 5_000;

/**
 * Options of {@link FakeClaudeServer.start}.
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, errorReply, type FakeClaudeServerOptions } from 'claude-rx/testing';
 *
 * const options: FakeClaudeServerOptions = { defaultReply: errorReply(529) };
 * const server = await FakeClaudeServer.start(options);
 * ```
 */
export interface FakeClaudeServerOptions {
  /** The port to listen on (on 127.0.0.1). @defaultValue 0, any free port */
  readonly port?: number;
  /** The reply when neither the queue nor a `respondWith` handler supplies one. @defaultValue a streamed text message, "Hello from the fake Claude server", with a fresh id per request */
  readonly defaultReply?: FakeReply;
}

/**
 * A handler choosing the reply to a request, set with {@link FakeClaudeServer.respondWith}.
 *
 * @example
 * ```ts
 * import { streamReply, textMessage, type FakeResponder } from 'claude-rx/testing';
 *
 * const echo: FakeResponder = (request) => streamReply(textMessage(`You sent ${request.rawBody.length} bytes`));
 * ```
 */
export type FakeResponder = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

type MutableRecord = { -readonly [K in keyof RecordedRequest]: RecordedRequest[K] };

interface Waiter {
  readonly count: number;
  readonly resolve: (requests: readonly RecordedRequest[]) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * A real HTTP server on 127.0.0.1 that answers `POST /v1/messages` as the Messages API does, byte for byte, for the
 * real SDK pointed at it with `baseURL`. Each request gets the next reply of the {@link FakeClaudeServer.enqueue}
 * queue, else the {@link FakeClaudeServer.respondWith} handler's, else the default reply; every request is recorded,
 * with whether the client went away before the response ended.
 *
 * It serves the platform clients' paths too, with the same replies, and records which one was used
 * ({@link RecordedRequest.platform}, {@link RecordedRequest.model}):
 *
 * - Google Vertex (`AnthropicVertex` of `@anthropic-ai/vertex-sdk`, with `baseURL: server.url`):
 *   `POST /projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict`, or
 *   `:rawPredict`, also under `/v1` as on Google's hosts. The model is read from the path, where the SDK moves it;
 *   a body without `anthropic_version` (which the SDK adds) gets `400 invalid_request_error`, as on Vertex.
 * - Microsoft Foundry (`AnthropicFoundry` of `@anthropic-ai/foundry-sdk`, with `baseURL: server.url + '/anthropic/'`):
 *   `POST /anthropic/v1/messages`.
 *
 * Other paths and methods get the API's `404 not_found_error`; a body that is not a JSON object gets
 * `400 invalid_request_error`. Neither consumes a reply. On every path, a request without `stream: true` in its
 * body gets a streamed reply's message as JSON, as the API would.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { FakeClaudeServer, streamReply, textMessage } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(streamReply(textMessage('Hi!')));
 * const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
 * const message = await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [] }).finalMessage();
 * // message.content[0] is { type: 'text', text: 'Hi!' }; server.lastRequest?.body?.model is 'claude-sonnet-5-5'
 * await server.close();
 * ```
 */
export class FakeClaudeServer {
  /** The base URL, e.g. `http://127.0.0.1:54321`, to use as the SDK's `baseURL`. */
  readonly url: string;
  /** The port the server listens on. */
  readonly port: number;

  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #exchanges = new Set<AbortController>();
  readonly #defaultReply: FakeReply | undefined;
  #queue: FakeReply[] = [];
  #responder: FakeResponder | undefined;
  #requests: RecordedRequest[] = [];
  #waiters: Waiter[] = [];
  #closing: Promise<void> | undefined;

  private constructor(server: Server, port: number, defaultReply: FakeReply | undefined) {
    this.#server = server;
    this.port = port;
    this.url = `http://${HOST}:${port}`;
    this.#defaultReply = defaultReply;
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res));
  }

  /**
   * Starts a server listening on 127.0.0.1.
   *
   * @param options - the port (any free one by default) and the default reply.
   * @returns the listening server; `close()` it when done.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer } from 'claude-rx/testing';
   *
   * const server = await FakeClaudeServer.start();
   * console.log(server.url); // http://127.0.0.1:54321
   * await server.close();
   * ```
   */
  static async start(options: FakeClaudeServerOptions = {}): Promise<FakeClaudeServer> {
    const server = createServer();
    // Longer than any client's idle keep-alive: a client reusing an idle socket must not race the server closing it
    // (the request would fail as a connection error). `close()` still closes idle sockets at once.
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    return new FakeClaudeServer(server, port, options.defaultReply);
  }

  /**
   * Queues replies; each Messages request (on any platform's path) takes the oldest one, before any `respondWith`
   * handler is asked.
   *
   * @param replies - the replies, in the order requests will get them.
   * @returns this server, for chaining.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer, errorReply, streamReply, textMessage } from 'claude-rx/testing';
   *
   * const server = await FakeClaudeServer.start();
   * server.enqueue(errorReply(429, { retryAfterMs: 10 }), streamReply(textMessage('Now it works')));
   * ```
   */
  enqueue(...replies: FakeReply[]): this {
    this.#queue.push(...replies);
    return this;
  }

  /**
   * Sets the handler that replies when the queue is empty (replacing any previous one; `undefined` removes it).
   * If it throws or rejects, the request gets a `500 api_error` whose message names the failure.
   *
   * @param responder - chooses a reply from the recorded request.
   * @returns this server, for chaining.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer, streamReply, textMessage } from 'claude-rx/testing';
   *
   * const server = await FakeClaudeServer.start();
   * server.respondWith((request) => streamReply(textMessage(`Model: ${String(request.body?.model)}`)));
   * ```
   */
  respondWith(responder: FakeResponder | undefined): this {
    this.#responder = responder;
    return this;
  }

  /**
   * Forgets the queue, the `respondWith` handler and the recorded requests. Responses in progress carry on.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer } from 'claude-rx/testing';
   *
   * const server = await FakeClaudeServer.start();
   * afterEach(() => server.reset());
   * ```
   */
  reset(): void {
    this.#queue = [];
    this.#responder = undefined;
    this.#requests = [];
  }

  /**
   * The requests received since start (or `reset()`), oldest first: a snapshot array of live records.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer } from 'claude-rx/testing';
   *
   * const server = await FakeClaudeServer.start();
   * // ... make calls ...
   * const paths = server.requests.map((request) => request.path);
   * ```
   */
  get requests(): readonly RecordedRequest[] {
    return [...this.#requests];
  }

  /**
   * The most recent request, if any.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer } from 'claude-rx/testing';
   *
   * const server = await FakeClaudeServer.start();
   * // ... make a call ...
   * const apiKey = server.lastRequest?.headers.authorization; // 'Bearer <key>': SDK 1.x sends the key as a bearer token;
   * ```
   */
  get lastRequest(): RecordedRequest | undefined {
    return this.#requests.at(-1);
  }

  /**
   * Resolves once at least `count` requests have been recorded (body read, reply chosen or about to be).
   *
   * @param count - how many requests to wait for.
   * @param timeoutMs - how long to wait. @defaultValue 5000
   * @returns the recorded requests at that moment.
   * @throws Error (as a rejection) on timeout, naming how many requests came, or if the server closes first.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer } from 'claude-rx/testing';
   *
   * const server = await FakeClaudeServer.start();
   * // ... subscribe to something that calls the API ...
   * const [request] = await server.waitForRequests(1);
   * ```
   */
  waitForRequests(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<readonly RecordedRequest[]> {
    if (this.#requests.length >= count) return Promise.resolve(this.requests);
    if (this.#closing) return Promise.reject(new Error('FakeClaudeServer is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter.timer !== timer);
        reject(
          new Error(`Timed out after ${timeoutMs} ms waiting for ${count} request(s); got ${this.#requests.length}`),
        );
      }, timeoutMs);
      this.#waiters.push({ count, resolve, reject, timer });
    });
  }

  /**
   * Stops the server: destroys every open connection (stalled responses included), cancels pending timers and
   * rejects pending `waitForRequests`. Never hangs; calling it again returns the same promise.
   *
   * @returns a promise that resolves once the server has stopped listening.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer } from 'claude-rx/testing';
   *
   * const server = await FakeClaudeServer.start();
   * afterAll(() => server.close());
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      // server.close() only stops accepting; it waits for open connections, so they are destroyed right after.
      this.#server.close(() => resolve());
      for (const exchange of this.#exchanges) exchange.abort();
      for (const socket of this.#sockets) socket.destroy();
      for (const waiter of this.#waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error('FakeClaudeServer closed before the expected requests arrived'));
      }
      this.#waiters = [];
    });
    return this.#closing;
  }

  /**
   * Closes the server, for `await using server = await FakeClaudeServer.start()`.
   *
   * @example
   * ```ts
   * import { FakeClaudeServer } from 'claude-rx/testing';
   *
   * await using server = await FakeClaudeServer.start();
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = performance.now();
    const controller = new AbortController();
    this.#exchanges.add(controller);
    let destroyedByServer = false;
    let settle!: () => void;
    const record: MutableRecord = {
      index: -1,
      method: req.method ?? '',
      path: req.url ?? '',
      platform: undefined,
      model: undefined,
      headers: flattenHeaders(req.headers),
      body: undefined,
      rawBody: '',
      receivedAt,
      requestId: fakeRequestId(),
      closedByClient: false,
      completed: false,
      eventsWritten: 0,
      closed: new Promise<void>((resolve) => (settle = resolve)),
    };
    const end = (): void => {
      record.closedAt ??= performance.now();
      this.#exchanges.delete(controller);
      controller.abort();
      settle();
    };
    res.on('finish', () => {
      record.completed = true;
      end();
    });
    res.on('close', () => {
      // The server aborts its own exchanges before destroying sockets, so only a client close gets here unaborted.
      if (!record.completed && !destroyedByServer && !controller.signal.aborted) record.closedByClient = true;
      end();
    });

    const exchange: Exchange = {
      res,
      requestId: record.requestId,
      streaming: false,
      signal: controller.signal,
      countEvent: () => void record.eventsWritten++,
      destroy: (when) => {
        destroyedByServer = true;
        if (when === 'now') {
          req.socket.destroy();
          return;
        }
        // end() flushes what was written, then FIN; the body is unfinished, so the client still sees a cut stream.
        req.socket.end(() => req.socket.destroy());
      },
    };

    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      record.rawBody = Buffer.concat(chunks).toString('utf8');
      const endpoint = req.method === 'POST' ? messagesEndpoint(new URL(record.path, this.url).pathname) : undefined;
      // A failure here is a bug of the fake, not a scripted fault: cut the connection so the test fails visibly.
      this.#answer(record, exchange, endpoint).catch(() => exchange.destroy('now'));
    });
  }

  async #answer(record: MutableRecord, exchange: Exchange, endpoint: MessagesEndpoint | undefined): Promise<void> {
    const parsed = parseJson(record.rawBody);
    record.body = isJsonObject(parsed) ? parsed : undefined;
    record.platform = endpoint?.platform;
    const bodyModel = record.body?.['model'];
    record.model = endpoint?.model ?? (typeof bodyModel === 'string' ? bodyModel : undefined);
    record.index = this.#requests.length;
    this.#requests.push(record);
    this.#notifyWaiters();

    if (!endpoint) {
      const message = `Not Found: ${record.method} ${record.path} (the fake Claude server answers ${SERVED_PATHS})`;
      sendJson(exchange, 404, errorBody('not_found_error', message, record.requestId));
      return;
    }
    if (!record.body) {
      const message = 'There was an issue with the request body: it must be a JSON object';
      sendJson(exchange, 400, errorBody('invalid_request_error', message, record.requestId));
      return;
    }
    // Vertex takes the API version from the body, not the `anthropic-version` header; a client that did not move it
    // there would fail on Vertex, so it fails here too.
    if (endpoint.platform === 'vertex' && typeof record.body['anthropic_version'] !== 'string') {
      const message = 'anthropic_version: Field required';
      sendJson(exchange, 400, errorBody('invalid_request_error', message, record.requestId));
      return;
    }

    let reply: FakeReply;
    try {
      reply = await this.#nextReply(record);
    } catch (error) {
      const message = `fake Claude server: the respondWith handler failed: ${String(error)}`;
      sendJson(exchange, 500, errorBody('api_error', message, record.requestId));
      return;
    }
    await serveReply(reply, { ...exchange, streaming: record.body['stream'] === true });
  }

  async #nextReply(record: RecordedRequest): Promise<FakeReply> {
    const queued = this.#queue.shift();
    if (queued) return queued;
    if (this.#responder) return this.#responder(record);
    return this.#defaultReply ?? streamReply(textMessage(DEFAULT_TEXT));
  }

  #notifyWaiters(): void {
    const ready = this.#waiters.filter((waiter) => this.#requests.length >= waiter.count);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => !ready.includes(waiter));
    for (const waiter of ready) {
      clearTimeout(waiter.timer);
      waiter.resolve(this.requests);
    }
  }
}

function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
