import { APIError } from '@anthropic-ai/sdk';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defer } from 'rxjs';
import {
  fromMessageStream,
  fromStreamEvents,
  IncompleteStreamError,
  textOnly,
  type ClaudeStreamEvent,
} from 'claude-rx';
import { recordedReply, stallBeforeHeaders, streamReply, textMessage } from 'claude-rx/testing';
import {
  collect,
  errorOf,
  PARAMS,
  sleep,
  trackUnhandledRejections,
  useFakeClaude,
  folderOf,
} from './support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

describe('fromMessageStream', () => {
  it('emits the events of an SDK MessageStream', async () => {
    const body = readFileSync(join(folderOf(import.meta.url), 'fixtures/recorded/basic_response.sse'), 'utf8');
    fake.server.enqueue(recordedReply(body));
    const text = await collect(fromMessageStream(fake.client.messages.stream(PARAMS)).pipe(textOnly()));
    expect(text.join('')).toBe('Hello there!');
  });

  it('aborts the MessageStream (and its HTTP request) on unsubscribe', async () => {
    fake.server.enqueue(streamReply(textMessage('Hello there, a long story'), { stallAfter: 3 }));
    const stream = fake.client.messages.stream(PARAMS);
    const seen: ClaudeStreamEvent[] = [];
    const errors: unknown[] = [];
    const subscription = fromMessageStream(stream).subscribe({
      next: (e) => seen.push(e),
      error: (e) => errors.push(e),
    });
    while (seen.length < 3) await sleep(5);
    subscription.unsubscribe();
    const request = fake.server.requests[0]!;
    await request.closed;
    expect(request.closedByClient).toBe(true);
    expect(stream.aborted).toBe(true);
    await sleep(20);
    expect(errors).toEqual([]);
  });

  it('aborts before the response without an unhandled rejection', async () => {
    fake.server.enqueue(stallBeforeHeaders());
    const errors: unknown[] = [];
    const subscription = fromMessageStream(fake.client.messages.stream(PARAMS)).subscribe({
      error: (e) => errors.push(e),
    });
    const [request] = await fake.server.waitForRequests(1);
    subscription.unsubscribe();
    await request!.closed;
    expect(request!.closedByClient).toBe(true);
    await sleep(20);
    expect(errors).toEqual([]);
  });

  it("passes the SDK's error through", async () => {
    fake.server.enqueue(
      streamReply(textMessage('Hi there'), {
        errorAfter: { events: 2, error: { type: 'overloaded_error', message: 'Overloaded' } },
      }),
    );
    const error = await errorOf(fromMessageStream(fake.client.messages.stream(PARAMS)));
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).type).toBe('overloaded_error');
  });
});

describe('fromStreamEvents', () => {
  const message = textMessage('Hello world', { chunkSize: 5 });
  const events = (): ClaudeStreamEvent[] => structuredClone(message);

  it('emits the events of an async iterable, then completes', async () => {
    async function* source() {
      yield* events();
    }
    expect(await collect(fromStreamEvents(source()))).toEqual(events());
  });

  it('reads a web ReadableStream', async () => {
    const stream = new ReadableStream<ClaudeStreamEvent>({
      start(controller) {
        for (const event of events()) controller.enqueue(event);
        controller.close();
      },
    });
    expect((await collect(fromStreamEvents(stream).pipe(textOnly()))).join('')).toBe('Hello world');
  });

  it('errors with IncompleteStreamError and the partial message when message_stop never comes', async () => {
    const cut = events().slice(0, 4);
    const error = await errorOf(
      fromStreamEvents(
        (async function* () {
          yield* cut;
        })(),
      ),
    );
    expect(error).toBeInstanceOf(IncompleteStreamError);
    expect((error as IncompleteStreamError).partial?.content).toEqual([{ type: 'text', text: 'Hello worl' }]);
  });

  it('wraps a failure after message_start, keeping it as the cause', async () => {
    const boom = new Error('socket gone');
    async function* source() {
      yield* events().slice(0, 3);
      throw boom;
    }
    const error = await errorOf(fromStreamEvents(source()));
    expect(error).toBeInstanceOf(IncompleteStreamError);
    expect((error as IncompleteStreamError).cause).toBe(boom);
  });

  it('passes a failure before message_start through unchanged', async () => {
    const boom = new Error('no connection');
    // eslint-disable-next-line require-yield
    async function* source(): AsyncGenerator<ClaudeStreamEvent> {
      throw boom;
    }
    expect(await errorOf(fromStreamEvents(source()))).toBe(boom);
  });

  it('stops the source on unsubscribe (its finally block runs)', async () => {
    let finished = false;
    async function* source() {
      try {
        for (let i = 0; i < 1000; i++) {
          for (const event of events()) {
            yield event;
            await sleep(1);
          }
        }
      } finally {
        finished = true;
      }
    }
    const subscription = fromStreamEvents(source()).subscribe();
    await sleep(15);
    subscription.unsubscribe();
    await sleep(20);
    expect(finished).toBe(true);
  });

  it('can be made cold with defer', async () => {
    let reads = 0;
    const cold$ = defer(() => {
      reads += 1;
      return fromStreamEvents(
        (async function* () {
          yield* events();
        })(),
      );
    });
    await collect(cold$);
    await collect(cold$);
    expect(reads).toBe(2);
  });
});
