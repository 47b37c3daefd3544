import { firstValueFrom, lastValueFrom, Observable, Subject, take, toArray } from 'rxjs';
import {
  claudeStream,
  MemoryStreamStore,
  ResumableStreams,
  StreamEndedError,
  StreamGapError,
  StreamIdError,
  StreamLimitError,
  StreamNotFoundError,
  toSseFrames,
  type SseFrame,
  type SseMessage,
} from 'claude-rx';
import { streamReply, textMessage } from 'claude-rx/testing';
import { PARAMS, sleep, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const frame = (n: number): SseFrame => ({ type: 'content_block_delta', data: `{"n":${n}}` });
const positions = (messages: readonly SseMessage[]) => messages.map((message) => Number(message.id.split('.')[1]));

describe('ResumableStreams options', () => {
  it.each([
    [{ graceMs: 0 }, /graceMs must be a positive number/],
    [{ ttlMs: -1 }, /ttlMs must be a positive number/],
    [{ maxEvents: 1.5 }, /maxEvents must be a positive integer/],
    [{ maxStreamsPerOwner: Number.NaN }, /maxStreamsPerOwner must be a positive integer/],
    [{ leaseMs: 'soon' }, /leaseMs must be a positive number/],
    [{ store: {} }, /store must be a StreamStore/],
  ])('refuses %j with a TypeError naming the option', (options, message) => {
    expect(() => new ResumableStreams(options as never)).toThrow(TypeError);
    expect(() => new ResumableStreams(options as never)).toThrow(message);
  });

  it('refuses an owner that is not a non-empty string', async () => {
    const streams = new ResumableStreams();
    await expect(streams.create({ owner: '' })).rejects.toThrow(TypeError);
    await expect(streams.create({ owner: 42 as never })).rejects.toThrow(TypeError);
  });
});

describe('a stream of frames', () => {
  it('stores every frame with its position, ids <stream id>.<position>, and ends with the source', async () => {
    const streams = new ResumableStreams();
    const source = new Subject<SseFrame>();
    const stream = await streams.start(source);
    expect(stream.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const read = lastValueFrom(stream.read().pipe(toArray()));
    for (let n = 1; n <= 3; n++) source.next(frame(n));
    source.complete();
    const messages = await read;
    expect(messages.map((message) => message.id)).toEqual([1, 2, 3].map((n) => `${stream.id}.${n}`));
    expect(messages.map((message) => message.data)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    // The producer lets go once the store has the final event (a round trip after the readers have it).
    await sleep(1);
    expect(streams.producing).toBe(0);
  });

  it('gives every stream an id of its own', async () => {
    const streams = new ResumableStreams();
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add((await streams.start(new Subject<SseFrame>())).id);
    expect(ids.size).toBe(50);
  });

  it('ends a stream whose source fails with a sanitized error frame', async () => {
    const streams = new ResumableStreams();
    const source = new Subject<SseFrame>();
    const stream = await streams.start(source);
    const read = lastValueFrom(stream.read().pipe(toArray()));
    source.next(frame(1));
    source.error(new Error('secret connection string postgres://u:p@h'));
    const messages = await read;
    expect(messages.map((message) => message.type)).toEqual(['content_block_delta', 'error']);
    expect(messages[1]!.data).not.toContain('postgres');
    expect(JSON.parse(messages[1]!.data)).toMatchObject({ type: 'upstream_error', retryable: false });
  });
});

describe('resume', () => {
  it('gives the events after the id, then the live ones, each once', async () => {
    const streams = new ResumableStreams();
    const source = new Subject<SseFrame>();
    const stream = await streams.start(source);
    const first = await new Promise<SseMessage[]>((resolve) => {
      const seen: SseMessage[] = [];
      const subscription = stream.read().subscribe((message) => {
        seen.push(message);
        if (seen.length === 2) {
          subscription.unsubscribe();
          resolve(seen);
        }
      });
      for (let n = 1; n <= 4; n++) source.next(frame(n));
    });
    await sleep(5);
    const rest = lastValueFrom((await streams.resume(first.at(-1)!.id)).pipe(toArray()));
    source.next(frame(5));
    source.complete();
    expect(positions(first)).toEqual([1, 2]);
    expect(positions(await rest)).toEqual([3, 4, 5]);
  });

  it('answers the table: malformed, unknown, another owner, after the final event, too old', async () => {
    const streams = new ResumableStreams({ maxEvents: 3 });
    const source = new Subject<SseFrame>();
    const stream = await streams.start(source, { owner: 'ada' });
    for (let n = 1; n <= 5; n++) source.next(frame(n));
    source.complete();
    await lastValueFrom(stream.read(2).pipe(toArray()));

    await expect(streams.resume('7', { owner: 'ada' })).rejects.toBeInstanceOf(StreamIdError);
    await expect(streams.resume(`${stream.id}.01`, { owner: 'ada' })).rejects.toBeInstanceOf(StreamIdError);
    await expect(streams.resume('AAAAAAAAAAAAAAAAAAAAAA.1', { owner: 'ada' })).rejects.toBeInstanceOf(
      StreamNotFoundError,
    );
    await expect(streams.resume(`${stream.id}.3`, { owner: 'bob' })).rejects.toBeInstanceOf(StreamNotFoundError);
    await expect(streams.resume(`${stream.id}.3`)).rejects.toBeInstanceOf(StreamNotFoundError);
    await expect(streams.resume(`${stream.id}.6`, { owner: 'ada' })).rejects.toBeInstanceOf(StreamNotFoundError);
    await expect(streams.resume(`${stream.id}.5`, { owner: 'ada' })).rejects.toBeInstanceOf(StreamEndedError);
    const tooOld = streams.resume(`${stream.id}.1`, { owner: 'ada' });
    await expect(tooOld).rejects.toBeInstanceOf(StreamGapError);
    await expect(tooOld).rejects.toMatchObject({ position: 1, firstPosition: 3, httpStatus: 404 });
    const rest = await lastValueFrom((await streams.resume(`${stream.id}.2`, { owner: 'ada' })).pipe(toArray()));
    expect(positions(rest)).toEqual([3, 4, 5]);
  });

  it('forgets an ended stream after ttlMs', async () => {
    const streams = new ResumableStreams({ ttlMs: 50 });
    const source = new Subject<SseFrame>();
    const stream = await streams.start(source);
    source.next(frame(1));
    source.complete();
    await lastValueFrom(stream.read().pipe(toArray()));
    await sleep(150);
    await expect(streams.resume(`${stream.id}.0`)).rejects.toBeInstanceOf(StreamNotFoundError);
  });
});

describe('the grace', () => {
  it('stops the source once no reader has been attached for graceMs, not before, with a final stopped frame', async () => {
    const streams = new ResumableStreams({ graceMs: 200 });
    let unsubscribedAt: number | undefined;
    const source = new Subject<SseFrame>();
    const stream = await streams.start(
      new Observable<SseFrame>((subscriber) => {
        const inner = source.subscribe(subscriber);
        return () => {
          unsubscribedAt = performance.now();
          inner.unsubscribe();
        };
      }),
    );
    const reader = stream.read().subscribe();
    source.next(frame(1));
    await sleep(300);
    expect(unsubscribedAt).toBeUndefined();
    const leftAt = performance.now();
    reader.unsubscribe();
    await sleep(120);
    expect(unsubscribedAt).toBeUndefined();
    await sleep(250);
    expect(unsubscribedAt! - leftAt).toBeGreaterThanOrEqual(195);
    const rest = await lastValueFrom((await streams.resume(`${stream.id}.1`)).pipe(toArray()));
    expect(rest.map((message) => [message.type, message.data])).toEqual([['stopped', '{"reason":"no_reader"}']]);
  });

  it('counts a reader of another instance sharing the store as attached', async () => {
    const store = new MemoryStreamStore();
    const producing = new ResumableStreams({ store, graceMs: 100 });
    const resuming = new ResumableStreams({ store, graceMs: 100 });
    const source = new Subject<SseFrame>();
    let stopped = false;
    const stream = await producing.start(
      new Observable<SseFrame>((subscriber) => {
        const inner = source.subscribe(subscriber);
        return () => {
          stopped = true;
          inner.unsubscribe();
        };
      }),
    );
    source.next(frame(1));
    const elsewhere = (await resuming.resume(`${stream.id}.0`)).subscribe();
    await sleep(400);
    expect(stopped).toBe(false);
    elsewhere.unsubscribe();
    await sleep(400);
    expect(stopped).toBe(true);
  });
});

describe('stop', () => {
  it('stops a stream from another instance sharing the store; its readers end with stopped', async () => {
    const store = new MemoryStreamStore();
    const producing = new ResumableStreams({ store });
    const other = new ResumableStreams({ store });
    const source = new Subject<SseFrame>();
    const stream = await producing.start(source, { owner: 'ada' });
    const read = lastValueFrom(stream.read().pipe(toArray()));
    source.next(frame(1));
    await expect(other.stop(stream.id, { owner: 'bob' })).resolves.toBe(false);
    await expect(other.stop(`${stream.id}.1`, { owner: 'ada' })).resolves.toBe(true);
    const messages = await read;
    expect(messages.map((message) => message.type)).toEqual(['content_block_delta', 'stopped']);
    expect(source.observed).toBe(false);
    await expect(other.stop(stream.id, { owner: 'ada' })).resolves.toBe(false);
    await expect(other.stop('not an id')).rejects.toBeInstanceOf(StreamIdError);
  });

  it('aborts the upstream request of a Claude stream', async () => {
    fake.server.enqueue(streamReply(textMessage('one two three four five six', { chunkSize: 2 }), { delayMs: 40 }));
    const streams = new ResumableStreams();
    const stream = await streams.start(claudeStream(fake.client, PARAMS).pipe(toSseFrames()));
    await firstValueFrom(stream.read().pipe(take(3)));
    await streams.stop(stream.id);
    const request = fake.server.requests[0]!;
    await request.closed;
    expect(request.closedByClient).toBe(true);
    expect(request.completed).toBe(false);
  });
});

describe('owners', () => {
  it('caps the live streams of one owner, and frees a slot when one ends or is discarded', async () => {
    const streams = new ResumableStreams({ maxStreamsPerOwner: 2 });
    const first = new Subject<SseFrame>();
    await streams.start(first, { owner: 'ada' });
    const second = await streams.create({ owner: 'ada' });
    const refused = streams.start(new Subject<SseFrame>(), { owner: 'ada' });
    await expect(refused).rejects.toBeInstanceOf(StreamLimitError);
    await expect(refused).rejects.toMatchObject({ limit: 2, httpStatus: 429 });
    await streams.start(new Subject<SseFrame>(), { owner: 'bob' });
    await streams.start(new Subject<SseFrame>());
    await second.discard();
    const third = await streams.start(new Subject<SseFrame>(), { owner: 'ada' });
    expect(third.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    first.complete();
    await sleep(5);
    await expect(streams.start(new Subject<SseFrame>(), { owner: 'ada' })).resolves.toBeDefined();
  });
});

describe('a producer that dies', () => {
  it('ends its readers elsewhere with an error event, whose id then resumes to 204', async () => {
    const store = new MemoryStreamStore();
    const other = new ResumableStreams({ store });
    // A producer that stops renewing its lease, as a killed process does: written to the store by hand.
    await store.create('DeadProducerStreamId00', { leaseMs: 100, ttlMs: 10_000, maxEvents: 100 });
    await store.append('DeadProducerStreamId00', [{ position: 1, type: 'message_start', data: '{}' }]);
    const messages = await lastValueFrom((await other.resume('DeadProducerStreamId00.0')).pipe(toArray()));
    expect(messages.map((message) => [message.id, message.type])).toEqual([
      ['DeadProducerStreamId00.1', 'message_start'],
      ['DeadProducerStreamId00.2', 'error'],
    ]);
    expect(JSON.parse(messages[1]!.data)).toMatchObject({ type: 'stream_lost', retryable: true });
    await expect(other.resume('DeadProducerStreamId00.2')).rejects.toBeInstanceOf(StreamEndedError);
    const again = await lastValueFrom((await other.resume('DeadProducerStreamId00.1')).pipe(toArray()));
    expect(again.map((message) => message.type)).toEqual(['error']);
  });
});
