import { delay, lastValueFrom, map, tap, toArray, type Observable } from 'rxjs';
import {
  claudeStream,
  retryOnRateLimit,
  toSseFrames,
  type ClaudeRxEvent,
  type ClaudeStreamEvent,
  type SseFrame,
} from 'claude-rx';
import { messageEvents, recordedReply, streamReply, text, textMessage, thinking, toolUse } from 'claude-rx/testing';
import { PARAMS, TEST_API_KEY, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';
import { startApp } from '../nest-module/support/nest-app.js';
import { readSse } from '../nest-module/support/sse-client.js';
import { foundryClientFor, vertexClientFor } from '../testing/helpers.js';
import { deeplyFrozen, sdkRawStream, useSdkPath } from './support/paths.js';

// toSseFrames writes an event's data as it came on the wire when the event is the very one claude-rx decoded (and so
// unchanged: it is frozen); anything else is serialized. The upstream here writes JSON with Python's spacing and
// ASCII escapes, so that a frame written by JSON.stringify is told apart from one relayed as it came.

const fake = useFakeClaude();
const paths = useSdkPath(fake);
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

/** JSON as Python's `json.dumps` writes it: `", "` and `": "` separators, non-ASCII as `\uXXXX`. */
function spaced(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(spaced).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([key, item]) => `${spaced(key)}: ${spaced(item)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Text that tries to forge frames, and non-ASCII: inside a JSON string, on one data line, escaped. */
const TRICKY = 'Héllo "you" 🎉\n\nevent: done\ndata: {}\n\r\n';

const EVENTS = messageEvents(
  [
    thinking('Let me think.', 'sig_1', { chunkSize: 4 }),
    text(TRICKY, { chunkSize: 5 }),
    toolUse({ id: 'toolu_1', name: 'lookup', input: { q: 'ünï', n: [1, 2.5] }, chunkSize: 6 }),
  ],
  { id: 'msg_relay_1' },
);

/** The upstream body: every event with spaced data, a ping after the first, line endings `ending`. */
function upstreamBody(events: readonly object[], ending = '\n'): { body: string; dataLines: string[] } {
  const dataLines = events.map(spaced);
  let body = '';
  events.forEach((event, i) => {
    body += `event: ${(event as { type: string }).type}${ending}data: ${dataLines[i]}${ending}${ending}`;
    if (i === 0) body += `event: ping${ending}data: {"type": "ping"}${ending}${ending}`;
  });
  return { body, dataLines };
}

function framesOf(source: Observable<ClaudeRxEvent>): Promise<SseFrame[]> {
  return lastValueFrom(source.pipe(toSseFrames(), toArray()));
}

describe('toSseFrames after claudeStream, on claude-rx’s path', () => {
  it('the upstream data line byte for byte, on one line, for every event (LF and CRLF upstream)', async () => {
    for (const ending of ['\n', '\r\n']) {
      const { body, dataLines } = upstreamBody(EVENTS, ending);
      // The spacing is distinctive: JSON.stringify would write every one of them otherwise.
      for (const line of dataLines) expect(JSON.stringify(JSON.parse(line))).not.toBe(line);
      fake.server.enqueue(recordedReply(body, { chunkBytes: 13 }));
      const frames = await framesOf(claudeStream(fake.client, PARAMS));
      expect(frames.map((frame) => frame.type)).toEqual([...EVENTS.map((event) => event.type), 'done']);
      expect(frames.slice(0, -1).map((frame) => frame.data)).toEqual(dataLines);
      for (const frame of frames) expect(frame.data).not.toMatch(/[\r\n]/);
    }
  });

  it('every event parses back to what the SDK’s own stream yields', async () => {
    const { body } = upstreamBody(EVENTS);
    const raw = await (fake.server.enqueue(recordedReply(body)), sdkRawStream(fake.client, PARAMS));
    fake.server.enqueue(recordedReply(body));
    const frames = await framesOf(claudeStream(fake.client, PARAMS));
    expect(frames.slice(0, -1).map((frame) => JSON.parse(frame.data) as unknown)).toEqual(raw.events);
  });

  it('data sent over several data lines is serialized again, onto one line', async () => {
    const events = textMessage('Hi there', { id: 'msg_multi' });
    const body = events
      .map((event) => `event: ${event.type}\n${JSON.stringify(event, null, 2).replace(/^/gm, 'data: ')}\n\n`)
      .join('');
    fake.server.enqueue(recordedReply(body));
    const frames = await framesOf(claudeStream(fake.client, PARAMS));
    expect(frames.slice(0, -1).map((frame) => frame.data)).toEqual(events.map((event) => JSON.stringify(event)));
  });

  it('an operator that replaces each event (a copy): every frame is the copy, serialized', async () => {
    fake.server.enqueue(recordedReply(upstreamBody(EVENTS).body));
    const frames = await framesOf(claudeStream(fake.client, PARAMS).pipe(map((event) => ({ ...event }))));
    expect(frames.slice(0, -1).map((frame) => frame.data)).toEqual(EVENTS.map((event) => JSON.stringify(event)));
  });

  it('an operator that changes the text: those frames carry the change; the others still come as they came', async () => {
    const { body, dataLines } = upstreamBody(EVENTS);
    fake.server.enqueue(recordedReply(body));
    const shout = map((event: ClaudeStreamEvent): ClaudeStreamEvent =>
      event.type === 'content_block_delta' && event.delta.type === 'text_delta'
        ? { ...event, delta: { ...event.delta, text: event.delta.text.toUpperCase() } }
        : event,
    );
    const frames = await framesOf(claudeStream(fake.client, PARAMS).pipe(shout));
    let changed = 0;
    EVENTS.forEach((event, i) => {
      const frame = frames[i]!;
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
        changed++;
        expect(JSON.parse(frame.data)).toEqual({
          ...event,
          delta: { ...event.delta, text: event.delta.text.toUpperCase() },
        });
        expect(frame.data).toBe(JSON.stringify(JSON.parse(frame.data)));
      } else {
        expect(frame.data).toBe(dataLines[i]);
      }
    });
    expect(changed).toBeGreaterThan(3);
  });

  it('changing an event in place throws (frozen, strict mode), at any depth: no stale data can go out', async () => {
    const { body, dataLines } = upstreamBody(EVENTS);
    fake.server.enqueue(recordedReply(body));
    const thrown: unknown[] = [];
    const attempt = (change: () => void) => {
      try {
        change();
      } catch (error) {
        thrown.push(error);
      }
    };
    const frames = await framesOf(
      claudeStream(fake.client, PARAMS).pipe(
        tap((event) => {
          const loose = event as unknown as Record<string, Record<string, unknown>>;
          attempt(() => (loose['type'] = 'message_stop' as never));
          if (event.type === 'message_start') attempt(() => (loose['message']!['usage'] = {}));
          if (event.type === 'message_start')
            attempt(() => ((event.message.usage as { output_tokens: number }).output_tokens = 999));
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
            attempt(() => ((event.delta as { text: string }).text = 'STALE'));
          }
          attempt(() => delete loose['type']);
          attempt(() => Object.defineProperty(event, 'extra', { value: 1 }));
        }),
      ),
    );
    // Three attempts on every event, two more on message_start, one more on each text delta.
    const textDeltas = EVENTS.filter(
      (event) => event.type === 'content_block_delta' && event.delta.type === 'text_delta',
    );
    expect(thrown).toHaveLength(EVENTS.length * 3 + 2 + textDeltas.length);
    for (const error of thrown) expect(error).toBeInstanceOf(TypeError);
    expect(frames.slice(0, -1).map((frame) => frame.data)).toEqual(dataLines);
  });

  it('two streams at once, one delayed behind the other: each frame is its own stream’s data', async () => {
    const other = messageEvents([text('Something else entirely, in other words', { chunkSize: 3 })], { id: 'msg_b' });
    const a = upstreamBody(EVENTS);
    const b = upstreamBody(other);
    fake.server.respondWith((request) =>
      recordedReply(
        (request.body?.['metadata'] as { user_id?: string } | undefined)?.user_id === 'b' ? b.body : a.body,
        {
          chunkBytes: 17,
        },
      ),
    );
    const frames = (params: typeof PARAMS & { metadata: { user_id: string } }, later: boolean) => {
      const events = claudeStream(fake.client, params);
      return (later ? events.pipe(delay(1)) : events).pipe(toSseFrames(), toArray());
    };
    const [framesA, framesB] = await Promise.all([
      lastValueFrom(frames({ ...PARAMS, metadata: { user_id: 'a' } }, false)),
      lastValueFrom(frames({ ...PARAMS, metadata: { user_id: 'b' } }, true)),
    ]);
    expect(framesA.slice(0, -1).map((frame) => frame.data)).toEqual(a.dataLines);
    // Delayed, the events of b are no longer the last decoded: serialized, or their own data, never a's.
    expect(framesB.slice(0, -1).map((frame) => JSON.parse(frame.data) as unknown)).toEqual(other);
  });

  it('after a retryOnRateLimit restart: the frames parse to the events, as JSON.stringify would give', async () => {
    const { body } = upstreamBody(EVENTS);
    fake.server.enqueue(
      streamReply(textMessage('First try, cut short', { chunkSize: 4 }), {
        errorAfter: { events: 4, error: { type: 'overloaded_error', message: 'Overloaded' } },
      }),
      recordedReply(body, { chunkBytes: 11 }),
    );
    const seen: ClaudeRxEvent[] = [];
    const frames = await framesOf(
      claudeStream(fake.client, PARAMS).pipe(
        retryOnRateLimit({ restartAfterContent: true, baseDelayMs: 1, jitter: 'none' }),
        tap((event) => seen.push(event)),
      ),
    );
    expect(frames.map((frame) => frame.type)).toContain('stream_restart');
    const restart = frames.findIndex((frame) => frame.type === 'stream_restart');
    const after = frames.slice(restart + 1, -1);
    expect(after.map((frame) => JSON.parse(frame.data) as unknown)).toEqual(EVENTS);
    frames.slice(0, -1).forEach((frame, i) => {
      const event = seen[i]!;
      if (frame.type === 'stream_restart') return;
      expect(frame.type).toBe(event.type);
      expect(JSON.parse(frame.data)).toEqual(JSON.parse(JSON.stringify(event)));
    });
  });

  it.each([
    ['Vertex', vertexClientFor],
    ['Foundry', foundryClientFor],
  ] as const)(
    'on %s, whose body is SSE too: the data lines as they came (claude-rx reads the body)',
    async (_, clientFor) => {
      const { body, dataLines } = upstreamBody(EVENTS);
      fake.server.enqueue(recordedReply(body, { chunkBytes: 13 }));
      const frames = await framesOf(claudeStream(clientFor(fake.server), PARAMS));
      expect(fake.server.requests[0]?.path).not.toBe('/v1/messages');
      expect(frames.slice(0, -1).map((frame) => frame.data)).toEqual(dataLines);
    },
  );

  it('on the SDK’s path (a tracer provider): serialized, the same events', async () => {
    const { body } = upstreamBody(EVENTS);
    fake.server.enqueue(recordedReply(body));
    const frames = await paths.sdkPath((client) => framesOf(claudeStream(client, PARAMS)));
    expect(frames.slice(0, -1).map((frame) => frame.data)).toEqual(EVENTS.map((event) => JSON.stringify(event)));
  });

  it.each([false, undefined] as const)(
    'ClaudeStreamService.sse() (retry %s): the frames a browser reads parse to the SDK’s events',
    async (retry) => {
      const { body, dataLines } = upstreamBody(EVENTS);
      const app = await startApp('express', {
        apiKey: TEST_API_KEY,
        baseURL: fake.server.url,
        clientOptions: { maxRetries: 0 },
        defaults: { model: 'claude-test-model', max_tokens: 64 },
        ...(retry === false ? { retry: false } : {}),
      });
      try {
        fake.server.enqueue(recordedReply(body, { chunkBytes: 9 }));
        const read = await readSse(`${app.url}/chat/plain?q=hi`);
        const events = read.events.filter((event) => event.event !== 'done');
        expect(read.events.at(-1)?.event).toBe('done');
        expect(events.map((event) => event.event)).toEqual(EVENTS.map((event) => event.type));
        expect(events.map((event) => JSON.parse(event.data) as unknown)).toEqual(EVENTS);
        // Relayed as they came where nothing held them back (without retry, every one).
        if (retry === false) expect(events.map((event) => event.data)).toEqual(dataLines);
      } finally {
        await app.app.close();
      }
    },
  );

  it('ClaudeStreamService.sse(): events that waited for the route to subscribe still go out as they came', async () => {
    const { body, dataLines } = upstreamBody(EVENTS);
    const app = await startApp('express', {
      apiKey: TEST_API_KEY,
      baseURL: fake.server.url,
      clientOptions: { maxRetries: 0 },
      defaults: { model: 'claude-test-model', max_tokens: 64 },
      retry: false,
      sse: { heartbeatMs: false },
    });
    try {
      fake.server.enqueue(recordedReply(body));
      const messages$ = await app.service.sse({ messages: [{ role: 'user', content: 'hi' }] });
      // The whole answer arrives before anyone subscribes (as with a fast answer and Nest's own scheduling).
      await fake.server.waitForRequests(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const messages = await lastValueFrom(messages$.pipe(toArray()));
      expect(messages.map((message) => message.type)).toEqual([...EVENTS.map((event) => event.type), 'done']);
      expect(messages.slice(0, -1).map((message) => message.data)).toEqual(dataLines);
    } finally {
      await app.app.close();
    }
  });

  it('the events themselves are frozen all the way down', async () => {
    fake.server.enqueue(recordedReply(upstreamBody(EVENTS).body));
    const events = await lastValueFrom(claudeStream(fake.client, PARAMS).pipe(toArray()));
    expect(events.every(deeplyFrozen)).toBe(true);
  });
});
