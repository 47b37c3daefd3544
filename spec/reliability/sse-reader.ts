import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { sleep } from '../support/harness.js';

/** An SSE response as a client read it: every byte, and the events parsed from them. */
export interface SseResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly raw: string;
  readonly events: EventSourceMessage[];
}

/**
 * GETs an SSE route and reads the body to its end with fetch, parsing it with eventsource-parser. With `pauseMs`,
 * the reader waits that long before each read, as a client on a slow link does: the server's writes pile up.
 * With `leaveAfter`, the client disconnects once that many events have arrived.
 */
export async function fetchSse(
  url: string,
  { pauseMs = 0, leaveAfter }: { pauseMs?: number; leaveAfter?: number } = {},
): Promise<SseResponse> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  let raw = '';
  try {
    for (;;) {
      if (pauseMs > 0) await sleep(pauseMs);
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      raw += text;
      parser.feed(text);
      if (leaveAfter !== undefined && events.length >= leaveAfter) {
        controller.abort();
        break;
      }
    }
  } finally {
    reader.releaseLock();
  }
  return { status: response.status, headers: response.headers, raw, events };
}
