import Anthropic from '@anthropic-ai/sdk';
import { defer, lastValueFrom, toArray } from 'rxjs';
import { CallsHeldError, claudeStream, MemoryStreamStore, SharedBackoff } from 'claude-rx';
import { errorReply, streamReply, textMessage } from 'claude-rx/testing';
import { errorOf, PARAMS, sleep, TEST_API_KEY, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

describe('SharedBackoff.keyFor', () => {
  it('is the same for the same credentials and model, and never holds the key itself', () => {
    const client = new Anthropic({ apiKey: TEST_API_KEY, baseURL: 'http://127.0.0.1:1' });
    const same = new Anthropic({ apiKey: TEST_API_KEY, baseURL: 'http://127.0.0.1:1' });
    const other = new Anthropic({ apiKey: `${TEST_API_KEY}-2`, baseURL: 'http://127.0.0.1:1' });
    const key = SharedBackoff.keyFor(client, 'claude-a');
    expect(SharedBackoff.keyFor(same, 'claude-a')).toBe(key);
    expect(SharedBackoff.keyFor(other, 'claude-a')).not.toBe(key);
    expect(SharedBackoff.keyFor(client, 'claude-b')).not.toBe(key);
    expect(key).toMatch(/^[0-9a-f]{16}:claude-a$/);
    expect(key).not.toContain(TEST_API_KEY.slice(0, 12));
  });

  it('follows a client whose credentials change (its digest is kept only while they are the same)', () => {
    const client = { apiKey: 'key-one', baseURL: 'http://127.0.0.1:1' };
    const first = SharedBackoff.keyFor(client, 'claude-a');
    expect(SharedBackoff.keyFor(client, 'claude-a')).toBe(first);
    client.apiKey = 'key-two';
    const second = SharedBackoff.keyFor(client, 'claude-a');
    expect(second).not.toBe(first);
    expect(second).toBe(SharedBackoff.keyFor({ apiKey: 'key-two', baseURL: 'http://127.0.0.1:1' }, 'claude-a'));
  });
});

describe('a call that the API answers with a 429 or 529 and retry-after', () => {
  const call = (backoff: SharedBackoff, key: string, maxWaitMs: number) =>
    defer(() => claudeStream(fake.client, PARAMS, { middleware: [backoff.middleware(key)] })).pipe(
      backoff.admit(key, { maxWaitMs }),
    );

  it.each([429, 529])('holds the next calls of that key until then (%i)', async (status) => {
    const store = new MemoryStreamStore();
    const backoff = new SharedBackoff(store);
    const key = SharedBackoff.keyFor(fake.client, PARAMS.model);
    fake.server.enqueue(errorReply(status, { retryAfterSeconds: 1 }));
    fake.server.enqueue(streamReply(textMessage('Hi')));
    const before = Date.now();
    await errorOf(call(backoff, key, 5_000));
    const until = await store.callsHeldUntil(key);
    expect(until).toBeGreaterThanOrEqual(before + 1_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 1_000);

    const events = await lastValueFrom(call(backoff, key, 5_000).pipe(toArray()));
    expect(events.at(-1)?.type).toBe('message_stop');
    const [first, second] = fake.server.requests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(990);
  });

  it('fails a call that may not wait that long at once, with the time left, sending nothing', async () => {
    const backoff = new SharedBackoff(new MemoryStreamStore());
    const key = SharedBackoff.keyFor(fake.client, PARAMS.model);
    fake.server.enqueue(errorReply(429, { retryAfterSeconds: 3 }));
    await errorOf(call(backoff, key, 5_000));
    const error = await errorOf(call(backoff, key, 1_000));
    expect(error).toBeInstanceOf(CallsHeldError);
    expect((error as CallsHeldError).retryAfterMs).toBeGreaterThan(2_500);
    expect((error as CallsHeldError).retryAfterMs).toBeLessThanOrEqual(3_000);
    expect(fake.server.requests).toHaveLength(1);
  });

  it('does not hold the calls of another model, nor after a 500 or a 429 without retry-after', async () => {
    const store = new MemoryStreamStore();
    const backoff = new SharedBackoff(store);
    const key = SharedBackoff.keyFor(fake.client, PARAMS.model);
    fake.server.enqueue(errorReply(429, { retryAfterSeconds: 2 }));
    await errorOf(call(backoff, key, 0));
    expect(await store.callsHeldUntil(SharedBackoff.keyFor(fake.client, 'another-model'))).toBeUndefined();
    const plain = new SharedBackoff(new MemoryStreamStore());
    fake.server.enqueue(errorReply(500));
    fake.server.enqueue(errorReply(429));
    await errorOf(call(plain, key, 0));
    await errorOf(call(plain, key, 0));
    expect(fake.server.requests).toHaveLength(3);
  });

  it('sends nothing when the caller leaves during the wait', async () => {
    const backoff = new SharedBackoff(new MemoryStreamStore());
    const key = SharedBackoff.keyFor(fake.client, PARAMS.model);
    await backoff.hold(key, 300);
    const subscription = call(backoff, key, 1_000).subscribe();
    await sleep(100);
    subscription.unsubscribe();
    await sleep(400);
    expect(fake.server.requests).toHaveLength(0);
  });

  it("fails the call with the store's error when the store cannot say (thrown or rejected), sending nothing", async () => {
    const key = SharedBackoff.keyFor(fake.client, PARAMS.model);
    const failure = new Error('store down');
    // Held for 100 ms at first, then throwing: the second question is asked from a timer.
    class ThrowingStore extends MemoryStreamStore {
      private asked = 0;
      override callsHeldUntil(): Promise<number | undefined> {
        if (this.asked++ === 0) return Promise.resolve(Date.now() + 100);
        throw failure;
      }
    }
    class RejectingStore extends MemoryStreamStore {
      override callsHeldUntil(): Promise<number | undefined> {
        return Promise.reject(failure);
      }
    }
    for (const store of [new ThrowingStore(), new RejectingStore()]) {
      expect(await errorOf(call(new SharedBackoff(store), key, 1_000))).toBe(failure);
    }
    expect(fake.server.requests).toHaveLength(0);
  });

  it('once admitted, the call is the subscriber’s own: unsubscribing aborts it mid-stream', async () => {
    const backoff = new SharedBackoff(new MemoryStreamStore());
    const key = SharedBackoff.keyFor(fake.client, PARAMS.model);
    fake.server.enqueue(streamReply(textMessage('Hello there, how are you?'), { stallAfter: 3 }));
    const seen: unknown[] = [];
    const subscription = call(backoff, key, 1_000).subscribe((event) => seen.push(event));
    const [request] = await fake.server.waitForRequests(1);
    while (seen.length < 3) await sleep(5);
    subscription.unsubscribe();
    await request!.closed;
    expect(request!.closedByClient).toBe(true);
  });
});
