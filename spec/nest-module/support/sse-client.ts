import { EventSource } from 'eventsource';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** What an SSE client read from one response, as it arrived. */
export interface SseRead {
  readonly status: number;
  readonly headers: Headers;
  /** Every byte of the body, decoded. */
  raw: string;
  readonly events: EventSourceMessage[];
  readonly comments: string[];
  /** Resolves when the body has ended (or the read was aborted). */
  readonly ended: Promise<void>;
  /** Closes the connection, as a browser tab does. */
  close(): void;
}

/** Opens an SSE response with fetch and parses it with eventsource-parser; resolves once the headers are in. */
export async function openSse(
  url: string,
  init: {
    method?: 'GET' | 'POST';
    /** More request headers (`Last-Event-ID`, an owner's). */
    headers?: Record<string, string>;
    body?: unknown;
    signal?: AbortSignal;
    onEvent?: (event: EventSourceMessage) => void;
  } = {},
): Promise<SseRead> {
  const controller = new AbortController();
  init.signal?.addEventListener('abort', () => controller.abort(), { once: true });
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      accept: 'text/event-stream',
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: controller.signal,
  });
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const read: SseRead = {
    status: response.status,
    headers: response.headers,
    raw: '',
    events,
    comments,
    ended: Promise.resolve(),
    close: () => controller.abort(),
  };
  const parser = createParser({
    onEvent: (event) => {
      events.push(event);
      init.onEvent?.(event);
    },
    onComment: (comment) => comments.push(comment),
  });
  const decoder = new TextDecoder();
  const pump = async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        read.raw += text;
        parser.feed(text);
      }
    } catch {
      // Aborted by close(): what was read so far stays in `read`.
    }
  };
  (read as { ended: Promise<void> }).ended = pump();
  return read;
}

/** Opens an SSE stream, reads it to its end and returns what came. */
export async function readSse(url: string, init: Parameters<typeof openSse>[1] = {}): Promise<SseRead> {
  const read = await openSse(url, init);
  await read.ended;
  return read;
}

/** Resolves with the first event that satisfies `predicate`, as the client reads it. */
export function eventWhere(predicate: (event: EventSourceMessage) => boolean): {
  onEvent: (event: EventSourceMessage) => void;
  arrived: Promise<EventSourceMessage>;
} {
  let resolve!: (event: EventSourceMessage) => void;
  const arrived = new Promise<EventSourceMessage>((r) => (resolve = r));
  return { onEvent: (event) => predicate(event) && resolve(event), arrived };
}

/** An event as a browser's EventSource delivers it. */
export interface BrowserEvent {
  readonly type: string;
  readonly data: string;
  readonly lastEventId: string;
}

const NAMED_EVENTS = [
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'stream_restart',
  'error',
  'done',
];

/**
 * Reads a GET stream with the `eventsource` package until the `done` (or `error`) event, or until `onEvent` returns
 * `'close'`, then closes it (an EventSource would otherwise reconnect). Rejects if the connection fails first.
 */
export function readWithEventSource(
  url: string,
  onEvent?: (event: BrowserEvent) => 'close' | undefined,
): Promise<BrowserEvent[]> {
  return new Promise((resolve, reject) => {
    const source = new EventSource(url);
    const events: BrowserEvent[] = [];
    for (const name of NAMED_EVENTS) {
      source.addEventListener(name, (event: Event) => {
        // The `eventsource` package fires its connection errors as plain `error` events, without data.
        if (!('data' in event) || source.readyState === EventSource.CLOSED) return;
        const message = event as globalThis.MessageEvent<string>;
        const received: BrowserEvent = { type: name, data: message.data, lastEventId: message.lastEventId };
        events.push(received);
        if (onEvent?.(received) === 'close' || name === 'done' || name === 'error') {
          source.close();
          resolve(events);
        }
      });
    }
    source.onerror = (error) => {
      if (source.readyState === EventSource.CLOSED || events.length === 0) {
        source.close();
        reject(new Error(`EventSource failed (${String(error.code)}): ${String(error.message)}`));
      }
    };
  });
}
