/**
 * Resumable streams on a plain `node:http` server, no framework: a chat answer that survives a dropped connection.
 *
 * `POST /chat` starts a generation that runs apart from its connection: every SSE event is stored with an id
 * (`<stream id>.<position>`). A client whose connection drops comes back with the last id it got as `Last-Event-ID`
 * and gets every event after it, once, in order, while the upstream request goes on. If nobody comes back within
 * `graceMs`, the upstream request is aborted; `POST /chat/stop` aborts it at once, from any request.
 *
 * - `POST /chat`, body `{ "q": "..." }`: the answer as SSE (`x-stream-id` names the stream before its first event).
 * - `GET /chat` or `POST /chat/resume` with `Last-Event-ID`: the rest of the answer; 204 once there is no more,
 *   404 for an unknown, expired or another user's stream, 400 for a malformed id.
 * - `POST /chat/stop`, body `{ "id": "<stream id or event id>" }`: `{ "stopped": true | false }`.
 *
 * The user is the `x-user` header here, to keep the sample short; in a real app it is the session's user, never a
 * header the client chooses.
 *
 * Run: `node dist/samples/resumable-node-http.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake
 * server), then follow the curl lines it prints.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Anthropic from '@anthropic-ai/sdk';
import type { Observable } from 'rxjs';
import {
  claudeStream,
  ResumableStreamError,
  ResumableStreams,
  serveSse,
  StreamIdError,
  StreamLimitError,
  toSseFrames,
  type ResumableStream,
  type SseMessage,
} from 'claude-rx';
import { streamReply, textMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

/**
 * Options of {@link createChatServer}.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { ResumableStreams } from 'claude-rx';
 *
 * const options: ChatServerOptions = {
 *   client: new Anthropic(),
 *   model: 'claude-sonnet-5-5',
 *   streams: new ResumableStreams({ graceMs: 30_000 }),
 * };
 * ```
 */
export interface ChatServerOptions {
  /** The Claude client the generations are sent with. */
  readonly client: Anthropic;
  /** The model to ask. */
  readonly model: string;
  /**
   * Where the streams run and are kept; share one `RedisStreamStore` between instances so that any of them resumes
   * or stops any stream. @defaultValue `new ResumableStreams()` (in memory, `graceMs` 15 s)
   */
  readonly streams?: ResumableStreams;
  /** Aborts every generation in flight, e.g. at shutdown. @defaultValue none */
  readonly signal?: AbortSignal;
  /** Told of unexpected failures (the client only gets a bare 500). @defaultValue `console.error` */
  readonly onError?: (error: unknown) => void;
}

/** Larger bodies are refused with 413 before they are parsed. */
const MAX_BODY_BYTES = 64 * 1024;

/** A refusal with a status and a message of our own: nothing of the error that caused it is sent. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** The request's user; required, so that no stream is ever readable by whoever learns its id. */
function ownerOf(req: IncomingMessage): string {
  const user = req.headers['x-user'];
  if (typeof user !== 'string' || user === '') throw new HttpError(401, 'who are you? (x-user)');
  return user;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new HttpError(413, 'body too large');
      chunks.push(chunk);
    }
  } catch (error) {
    // A client that went away mid-body is no failure of ours.
    throw error instanceof HttpError ? error : new HttpError(400, 'the body could not be read');
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body must be JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/**
 * A chat server with resumable answers, on `node:http` alone. It is returned not listening: call `listen` on it.
 *
 * - `POST /chat` (`{ q }`, user in `x-user`): starts a generation, served as SSE whose every event has an id. 400 for
 *   a bad body, 401 without a user, 429 when the user has too many generations running (`StreamLimitError`).
 *   Carrying `Last-Event-ID`, it is a resume (a reconnect never starts a new generation).
 * - `GET /chat` or `POST /chat/resume` with `Last-Event-ID`: the events after it, then the live ones. A refusal is
 *   its `httpStatus` with no body: 204 (nothing more: it stops an `EventSource`), 404 (unknown, expired, or another
 *   user's stream: the two are not told apart), 400 (malformed). A `GET` without `Last-Event-ID` is 400: a URL never
 *   starts a generation (a link, a prefetch or a crawler would pay for one).
 * - `POST /chat/stop` (`{ id }`, a stream id or any of its event ids): `{ stopped }`; 400 for a malformed id.
 * - Anything else: 404.
 *
 * No response ever carries an API key, an upstream header or a stack: upstream failures become the fixed
 * `error` event of `toSseFrames`, unexpected ones a bare 500.
 *
 * @param options The client and model, and optionally the `ResumableStreams` (its `graceMs`, `maxStreamsPerOwner`,
 *   store), a shutdown `signal` and an `onError` logger.
 * @returns The `http.Server`, not listening.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { ResumableStreams } from 'claude-rx';
 *
 * const server = createChatServer({
 *   client: new Anthropic(),
 *   model: 'claude-sonnet-5-5',
 *   streams: new ResumableStreams({ graceMs: 15_000 }),
 * });
 * server.listen(3000);
 * // curl -N localhost:3000/chat -H 'x-user: ada' -H 'content-type: application/json' -d '{"q":"Hello"}'
 * ```
 */
export function createChatServer(options: ChatServerOptions): Server {
  const { client, model, streams = new ResumableStreams(), signal, onError = console.error } = options;

  /** Serves the rest of a stream after `Last-Event-ID`, or the refusal's status. */
  async function resume(req: IncomingMessage, res: ServerResponse, owner: string): Promise<void> {
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId !== 'string' || lastEventId === '') throw new HttpError(400, 'Last-Event-ID is required');
    let events$: Observable<SseMessage>;
    try {
      events$ = await streams.resume(lastEventId, { owner });
    } catch (error) {
      if (!(error instanceof ResumableStreamError)) throw error;
      // No body: the status says it all, and an EventSource reads none of it anyway.
      res.writeHead(error.httpStatus).end();
      return;
    }
    serveSse(res, events$);
  }

  async function start(req: IncomingMessage, res: ServerResponse, owner: string): Promise<void> {
    const { q } = await readJson(req);
    if (typeof q !== 'string' || q.trim() === '') throw new HttpError(400, 'q must be a non-empty string');
    const frames$ = claudeStream(
      client,
      { model, max_tokens: 1024, messages: [{ role: 'user', content: q }] },
      signal ? { signal } : {},
    ).pipe(toSseFrames());
    let stream: ResumableStream;
    try {
      // The generation runs apart from this response from now on: closing the tab only detaches the reader, and the
      // upstream request goes on (and is paid for) until the answer ends, a stop, or `graceMs` with nobody reading.
      stream = await streams.start(frames$, { owner });
    } catch (error) {
      // The user has `maxStreamsPerOwner` generations running already; nothing was sent upstream.
      if (error instanceof StreamLimitError) throw new HttpError(error.httpStatus, 'too many answers in progress');
      throw error;
    }
    // The id goes in a header (and in every event's id), never in a URL: URLs end up in logs, history and Referer.
    serveSse(res, stream.read(), { headers: { 'x-stream-id': stream.id } });
  }

  async function stop(req: IncomingMessage, res: ServerResponse, owner: string): Promise<void> {
    const { id } = await readJson(req);
    if (typeof id !== 'string') throw new HttpError(400, 'id must be a stream id or an event id');
    try {
      // Works whichever request (or instance) is serving the stream: the stop goes through the store.
      sendJson(res, 200, { stopped: await streams.stop(id, { owner }) });
    } catch (error) {
      if (error instanceof StreamIdError) throw new HttpError(400, 'id must be a stream id or an event id');
      throw error;
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    switch (`${req.method ?? ''} ${path}`) {
      case 'POST /chat': {
        const owner = ownerOf(req);
        // A reconnect (Last-Event-ID) is answered as a resume, never with a second generation.
        if (req.headers['last-event-id'] !== undefined) {
          req.resume();
          return resume(req, res, owner);
        }
        return start(req, res, owner);
      }
      case 'GET /chat':
        return resume(req, res, ownerOf(req));
      case 'POST /chat/resume':
        req.resume();
        return resume(req, res, ownerOf(req));
      case 'POST /chat/stop':
        return stop(req, res, ownerOf(req));
      default:
        req.resume();
        throw new HttpError(404, 'not found');
    }
  }

  return createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!(error instanceof HttpError)) onError(error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) sendJson(res, error.status, { error: error.message });
      else sendJson(res, 500, { error: 'internal error' });
    });
  });
}

/**
 * Options of {@link main}.
 *
 * @example
 * ```ts
 * const options: MainOptions = { port: 0, log: () => {}, stop: AbortSignal.timeout(60_000) };
 * ```
 */
export interface MainOptions {
  /** @defaultValue `PORT`, else 3000 */
  readonly port?: number;
  /** @defaultValue `HOST`, else 127.0.0.1 */
  readonly host?: string;
  /** Where the address and the curl lines go. @defaultValue `console.log` */
  readonly log?: (line: string) => void;
  /** Shuts the server down when it aborts. @defaultValue Ctrl-C (SIGINT) */
  readonly stop?: AbortSignal;
}

/**
 * Serves the chat until `stop` (Ctrl-C): then closes every connection and aborts the generations in flight.
 *
 * @returns A promise that resolves once the server is closed.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 *
 * await main(new Anthropic(), { port: 3000 }); // until Ctrl-C
 * ```
 */
export async function main(client: Anthropic, options: MainOptions = {}): Promise<void> {
  const {
    port = Number(process.env['PORT'] ?? 3000),
    host = process.env['HOST'] ?? '127.0.0.1',
    log = console.log,
    stop,
  } = options;
  const shutdown = new AbortController();
  const server = createChatServer({ client, model: MODEL, signal: shutdown.signal });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  log(`[claude-rx demo] Listening on ${url} (Ctrl-C to stop). Try:`);
  log(`  curl -N ${url}/chat -H 'x-user: ada' -H 'content-type: application/json' -d '{"q":"Tell me a story"}'`);
  log(`  # Ctrl-C it mid-answer, then within 15 s, with the last id it printed:`);
  log(`  curl -N -X POST ${url}/chat/resume -H 'x-user: ada' -H 'Last-Event-ID: <id>'`);
  log(`  # or stop it: curl ${url}/chat/stop -H 'x-user: ada' -H 'content-type: application/json' -d '{"id":"<id>"}'`);

  await new Promise<void>((resolve) => {
    const onSigint = () => shutdown.abort();
    shutdown.signal.addEventListener(
      'abort',
      () => {
        process.off('SIGINT', onSigint);
        server.close(() => resolve());
        // Open SSE responses would hold close() until their clients leave.
        server.closeAllConnections();
      },
      { once: true },
    );
    if (!stop) process.once('SIGINT', onSigint);
    else if (stop.aborted) shutdown.abort();
    else stop.addEventListener('abort', () => shutdown.abort(), { once: true });
  });
}

/** What the fake server answers when no API key is set: a story, slow enough to drop and resume by hand. */
export function demo(server: FakeClaudeServer): void {
  const story =
    'Every night for thirty years, Ada climbed the hundred and twelve steps of the Skerry light and wound the lamp. ' +
    'Ships passed, and she never met them. Then, one November, the sea began to sing.';
  server.respondWith(() => streamReply(textMessage(story, { chunkSize: 4 }), { delayMs: 150 }));
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
