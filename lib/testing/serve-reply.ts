import type { ServerResponse } from 'node:http';

import { errorBody, statusForErrorType } from './api-errors.js';
import type { FakeReply, FakeStreamEvent, RecordedReply, StreamReply } from './fake-reply.js';
import { messageFromEvents } from './message-from-events.js';
import { PING_DATA, sseFrame } from './sse-frames.js';

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const LF = 0x0a;

/**
 * One request/response pair as `serveReply` sees it; internal to `claude-rx/testing`.
 */
export interface Exchange {
  readonly res: ServerResponse;
  readonly requestId: string;
  /** The request asked for `stream: true`. */
  readonly streaming: boolean;
  /** Aborts when the exchange is over for any reason (client gone, server reset, server closing). */
  readonly signal: AbortSignal;
  /** Counts one more SSE frame written. */
  countEvent(): void;
  /** Ends the connection from the server side: `now`, or once what was written has been flushed. */
  destroy(when: 'now' | 'after-flush'): void;
}

/** Answers one request with a reply; resolves when done writing (a stalled reply resolves at once). */
export async function serveReply(reply: FakeReply, exchange: Exchange): Promise<void> {
  // A respondWith handler may take a while; the client or close() may have ended the exchange meanwhile.
  if (exchange.signal.aborted) return;
  switch (reply.kind) {
    case 'stream':
      return exchange.streaming ? serveStream(reply, exchange) : serveStreamAsJson(reply, exchange);
    case 'error':
      sendJson(exchange, reply.status, errorBody(reply.error.type, reply.error.message, exchange.requestId), {
        ...reply.headers,
      });
      return;
    case 'recorded':
      return serveRecorded(reply, exchange);
    case 'reset-before-headers':
      exchange.destroy('now');
      return;
    case 'stall-before-headers':
      return;
    default:
      reply satisfies never;
  }
}

/** Sends a complete JSON response, `content-length` and all, unless the exchange is already over. */
export function sendJson(exchange: Exchange, status: number, body: string, headers: Record<string, string> = {}): void {
  if (exchange.signal.aborted) return;
  exchange.res.writeHead(status, {
    'content-type': 'application/json',
    'request-id': exchange.requestId,
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  exchange.res.end(body);
}

async function serveStream(reply: StreamReply, exchange: Exchange): Promise<void> {
  const { options } = reply;
  const frames = streamFrames(reply);
  const limit = options.errorAfter?.events ?? options.stallAfter ?? options.resetAfter ?? frames.length;
  exchange.res.writeHead(200, { ...SSE_HEADERS, 'request-id': exchange.requestId, ...options.headers });
  // Headers go out before the first event, as the API's do, so a client sees the response start even when the
  // first event is delayed or never comes.
  exchange.res.flushHeaders();

  for (const frame of frames.slice(0, limit)) {
    if (!(await writeFrame(exchange, frame, options))) return;
  }
  if (options.errorAfter) {
    const { type, message } = options.errorAfter.error;
    if (!(await writeFrame(exchange, sseFrame('error', errorBody(type, message, exchange.requestId)), options))) return;
  } else if (options.stallAfter !== undefined) {
    return;
  } else if (options.resetAfter !== undefined) {
    exchange.destroy('after-flush');
    return;
  }
  if (!exchange.signal.aborted) exchange.res.end();
}

/** A request without `stream: true` gets the complete message, or the fault's non-streaming equivalent. */
function serveStreamAsJson(reply: StreamReply, exchange: Exchange): void {
  const { options } = reply;
  if (options.stallAfter !== undefined) return;
  if (options.resetAfter !== undefined) {
    exchange.destroy('now');
    return;
  }
  if (options.errorAfter) {
    const { type, message } = options.errorAfter.error;
    sendJson(exchange, statusForErrorType(type), errorBody(type, message, exchange.requestId));
    return;
  }
  const message = messageFromEvents(reply.events);
  if (!message) {
    const text = 'fake Claude server: the scripted events have no message_start to build a message from';
    sendJson(exchange, 500, errorBody('api_error', text, exchange.requestId));
    return;
  }
  sendJson(exchange, 200, JSON.stringify(message), { ...options.headers });
}

async function serveRecorded(reply: RecordedReply, exchange: Exchange): Promise<void> {
  exchange.res.writeHead(200, { ...SSE_HEADERS, 'request-id': exchange.requestId, ...reply.options.headers });
  exchange.res.flushHeaders();
  for (const frame of recordedFrames(reply.body)) {
    if (!(await writeFrame(exchange, frame, reply.options))) return;
  }
  if (!exchange.signal.aborted) exchange.res.end();
}

function streamFrames(reply: StreamReply): string[] {
  const events: FakeStreamEvent[] = reply.options.omitMessageStop
    ? reply.events.filter((event) => event.type !== 'message_stop')
    : [...reply.events];
  if (reply.options.pingAfterStart) {
    const firstBlock = events.findIndex((event) => event.type === 'content_block_start');
    const anchor = firstBlock >= 0 ? firstBlock : events.findIndex((event) => event.type === 'message_start');
    events.splice(anchor + 1, 0, { type: 'ping' });
  }
  return events.map((event) => sseFrame(event.type, isBarePing(event) ? PING_DATA : event));
}

function isBarePing(event: FakeStreamEvent): boolean {
  return event.type === 'ping' && Object.keys(event).length === 1;
}

/** Cuts a recording after each blank line (`\n\n`); the pieces concatenate back to the exact bytes. */
function recordedFrames(body: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let start = 0;
  for (let i = 1; i < body.length; i++) {
    if (body[i] === LF && body[i - 1] === LF) {
      frames.push(body.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < body.length) frames.push(body.subarray(start));
  return frames;
}

/** Waits `delayMs`, writes one frame (in `chunkBytes` pieces), counts it; false once the exchange is over. */
async function writeFrame(
  exchange: Exchange,
  frame: string | Uint8Array,
  options: { readonly delayMs?: number; readonly chunkBytes?: number },
): Promise<boolean> {
  // Without a delay, yield a turn all the same: writes that complete at once would otherwise chain through
  // microtasks, and a client in the same process (a test's) would read nothing before the whole body was written.
  if (!(await (options.delayMs ? sleep(options.delayMs, exchange.signal) : nextTurn(exchange.signal)))) return false;
  const bytes = typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
  const size = options.chunkBytes ?? bytes.length;
  for (let offset = 0; offset < bytes.length; offset += size) {
    // Yielding between pieces lets the client read each one separately instead of a coalesced buffer.
    if (offset > 0 && !(await nextTurn(exchange.signal))) return false;
    if (!(await write(exchange, bytes.subarray(offset, offset + size)))) return false;
  }
  exchange.countEvent();
  return true;
}

/** Resolves true once the bytes reach the socket; false if the exchange ends first (a destroyed socket never calls back). */
function write(exchange: Exchange, bytes: Uint8Array): Promise<boolean> {
  return settleUnlessAborted(exchange.signal, (done) => {
    exchange.res.write(bytes, (error) => done(!error));
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return settleUnlessAborted(signal, (done) => {
    const timer = setTimeout(() => done(true), ms);
    return () => clearTimeout(timer);
  });
}

function nextTurn(signal: AbortSignal): Promise<boolean> {
  return settleUnlessAborted(signal, (done) => {
    const immediate = setImmediate(() => done(true));
    return () => clearImmediate(immediate);
  });
}

/** Runs `start`, resolving with what it reports, or false (after running its cleanup) when `signal` aborts first. */
function settleUnlessAborted(
  signal: AbortSignal,
  start: (done: (ok: boolean) => void) => (() => void) | void,
): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    let cleanup: (() => void) | void = undefined;
    const onAbort = (): void => {
      cleanup?.();
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    cleanup = start((ok) => {
      signal.removeEventListener('abort', onAbort);
      resolve(ok && !signal.aborted);
    });
  });
}
