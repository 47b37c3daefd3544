import { randomUUID } from 'node:crypto';
import { lastValueFrom, take, timeout, toArray, type Observable, type Subscription } from 'rxjs';
import { StreamGapError, StreamLostError, StreamNotFoundError } from '../../lib/resumable/stream-errors.js';
import type { StoredEvent, StreamCreateOptions, StreamStore } from '../../lib/resumable/stream-store.js';
import { sleep, trackUnhandledRejections } from './harness.js';

/** What a contract test gets from the store under test: the store, and how to let go of it after the test. */
export interface StoreUnderTest {
  store: StreamStore;
  close?: () => Promise<void>;
}

/** How an Observable ended. */
export type Ending = { kind: 'complete' } | { kind: 'error'; error: unknown };

/** What a subscription saw so far, for assertions on live delivery that may arrive asynchronously. */
export interface Recording<T> {
  readonly values: T[];
  /** How it ended, once it has; `undefined` before. */
  ending(): Ending | undefined;
  /** Resolves with how it ended (never rejects). */
  readonly ended: Promise<Ending>;
  readonly subscription: Subscription;
}

/** Subscribes to `source` and records what it emits and how it ends. */
export function record<T>(source: Observable<T>): Recording<T> {
  const values: T[] = [];
  let outcome: Ending | undefined;
  let settle!: (ending: Ending) => void;
  const ended = new Promise<Ending>((resolve) => (settle = resolve));
  const finish = (ending: Ending) => {
    outcome = ending;
    settle(ending);
  };
  const subscription = source.subscribe({
    next: (value) => values.push(value),
    error: (error: unknown) => finish({ kind: 'error', error }),
    complete: () => finish({ kind: 'complete' }),
  });
  return { values, ending: () => outcome, ended, subscription };
}

/** Polls `condition` every few milliseconds; fails, naming `what`, when it is still false after `ms`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** `promise`, or a failure naming `what` when it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The event at `position`, as a producer would append it. */
export const storedEvent = (position: number): StoredEvent => ({
  position,
  type: 'content_block_delta',
  data: `{"n":${position}}`,
});

/** The events at positions `from` to `to`, both included (none when `to < from`). */
export const storedEvents = (from: number, to: number): StoredEvent[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, index) => storedEvent(from + index));

export const positionsOf = (events: readonly StoredEvent[]) => events.map((event) => event.position);

/**
 * Declares the suite that every `StreamStore` must pass, through its interface only: each test makes a store with
 * `makeStore` (and closes it after), uses stream ids, owners and backoff keys of its own, and waits (with a timeout)
 * for what a store may deliver asynchronously, so that a store shared between processes (Redis) passes it too.
 *
 * @example
 * ```ts
 * describeStreamStoreContract('MemoryStreamStore', async () => ({ store: new MemoryStreamStore() }));
 * ```
 */
export function describeStreamStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`StreamStore contract: ${name}`, () => {
    const rejections = trackUnhandledRejections();
    let underTest: StoreUnderTest | undefined;
    let store: StreamStore;
    /** Subscriptions a test leaves open, closed after it. */
    const open: Subscription[] = [];

    beforeEach(async () => {
      underTest = await makeStore();
      store = underTest.store;
    });

    afterEach(async () => {
      for (const subscription of open.splice(0)) subscription.unsubscribe();
      await underTest?.close?.();
      underTest = undefined;
      expect(rejections).toEqual([]);
    });

    const newId = () => `contract-${randomUUID()}`;
    const newOwner = () => `owner-${randomUUID()}`;
    const options = (overrides: Partial<StreamCreateOptions> = {}): StreamCreateOptions => ({
      leaseMs: 10_000,
      ttlMs: 10_000,
      maxEvents: 1_000,
      ...overrides,
    });
    /** A new live stream, its id. */
    const created = async (overrides: Partial<StreamCreateOptions> = {}) => {
      const id = newId();
      expect(await store.create(id, options(overrides))).toBe(true);
      return id;
    };
    const follow = (source: Observable<StoredEvent>) => {
      const recording = record(source);
      open.push(recording.subscription);
      return recording;
    };
    /** Every event of a read that must complete, failing when it does not within `ms`. */
    const readAll = (id: string, position: number, ms = 1_000) =>
      lastValueFrom(store.read(id, position).pipe(timeout(ms), toArray()));
    /** The first `count` events of a read (of a live stream, which does not complete). */
    const readFirst = (id: string, position: number, count: number, ms = 1_000) =>
      lastValueFrom(store.read(id, position).pipe(take(count), timeout(ms), toArray()));
    /** The error a read ends with, failing when it completes instead, or does not end within `ms`. */
    const readError = async (id: string, position: number, ms = 1_000) => {
      const ending = await within(follow(store.read(id, position)).ended, ms, `read(${position}) to fail`);
      if (ending.kind !== 'error') throw new Error(`read(${position}) completed; an error was expected`);
      return ending.error;
    };
    const waitForEvents = (recording: Recording<StoredEvent>, count: number, ms = 1_000) =>
      waitUntil(() => recording.values.length >= count, ms, `${count} events`);

    describe('create', () => {
      it('registers a live stream with no event, keeping its owner', async () => {
        const owner = newOwner();
        const id = newId();
        expect(await store.create(id, options({ owner }))).toBe(true);
        expect(await store.info(id)).toEqual({ owner, state: 'live', firstPosition: 1, lastPosition: 0 });

        const ownerless = await created();
        const info = await store.info(ownerless);
        expect(info?.owner).toBeUndefined();
        expect(info).toMatchObject({ state: 'live', firstPosition: 1, lastPosition: 0 });
      });

      it('refuses an id that exists, live or ended, with a TypeError, leaving that stream as it was', async () => {
        const owner = newOwner();
        const id = await created({ owner });
        await store.append(id, storedEvents(1, 2));
        await expect(store.create(id, options({ owner: newOwner() }))).rejects.toBeInstanceOf(TypeError);
        expect(await store.info(id)).toEqual({ owner, state: 'live', firstPosition: 1, lastPosition: 2 });

        await store.append(id, [], true);
        await expect(store.create(id, options())).rejects.toBeInstanceOf(TypeError);
        expect(await store.info(id)).toEqual({ owner, state: 'ended', firstPosition: 1, lastPosition: 2 });
        expect(await readAll(id, 0)).toEqual(storedEvents(1, 2));
      });
    });

    describe('append and read', () => {
      it('replays every event appended, over several batches, in order, from position 0', async () => {
        const id = await created();
        await store.append(id, storedEvents(1, 2));
        await store.append(id, storedEvents(3, 3));
        await store.append(id, storedEvents(4, 6));
        expect(await store.info(id)).toMatchObject({ state: 'live', firstPosition: 1, lastPosition: 6 });
        expect(await readFirst(id, 0, 6)).toEqual(storedEvents(1, 6));
      });

      it('reads only the events after the position given', async () => {
        const id = await created();
        await store.append(id, storedEvents(1, 3));
        await store.append(id, storedEvents(4, 5), true);
        for (let position = 0; position <= 5; position++) {
          expect(positionsOf(await readAll(id, position))).toEqual(positionsOf(storedEvents(position + 1, 5)));
        }
      });

      it('hands a read subscribed before the appends each event live, in order, once, and completes at the end', async () => {
        const id = await created();
        const reader = follow(store.read(id, 0));
        // Lets a store that subscribes asynchronously get there first: what follows is then truly live.
        await sleep(20);
        await store.append(id, storedEvents(1, 2));
        await waitForEvents(reader, 2);
        await store.append(id, storedEvents(3, 3));
        await store.append(id, storedEvents(4, 5));
        await waitForEvents(reader, 5);
        expect(reader.ending()).toBeUndefined();

        await store.append(id, [], true);
        expect(await within(reader.ended, 1_000, 'the read to complete')).toEqual({ kind: 'complete' });
        expect(reader.values).toEqual(storedEvents(1, 5));
      });

      it('replays the events kept, then follows the new ones, without gap or repeat', async () => {
        const id = await created();
        await store.append(id, storedEvents(1, 4));
        const reader = follow(store.read(id, 2));
        await waitForEvents(reader, 2);
        await store.append(id, storedEvents(5, 6));
        await store.append(id, storedEvents(7, 8));
        await waitForEvents(reader, 6);
        expect(reader.ending()).toBeUndefined();
        await store.append(id, storedEvents(9, 9), true);
        expect(await within(reader.ended, 1_000, 'the read to complete')).toEqual({ kind: 'complete' });
        expect(reader.values).toEqual(storedEvents(3, 9));
      });

      it('completes a live read after a final append that carries events, once it has them', async () => {
        const id = await created();
        const reader = follow(store.read(id, 0));
        await sleep(20);
        await store.append(id, storedEvents(1, 2));
        await store.append(id, storedEvents(3, 4), true);
        expect(await within(reader.ended, 1_000, 'the read to complete')).toEqual({ kind: 'complete' });
        expect(reader.values).toEqual(storedEvents(1, 4));
        expect(await store.info(id)).toMatchObject({ state: 'ended', firstPosition: 1, lastPosition: 4 });
      });

      it('completes a read of an ended stream right after replaying it', async () => {
        const id = await created();
        await store.append(id, storedEvents(1, 3));
        await store.append(id, [], true);
        expect(await store.info(id)).toMatchObject({ state: 'ended', lastPosition: 3 });
        expect(await readAll(id, 0, 500)).toEqual(storedEvents(1, 3));
        expect(await readAll(id, 1, 500)).toEqual(storedEvents(2, 3));
      });

      it('completes a read from the last position of an ended stream with no event', async () => {
        const id = await created();
        await store.append(id, storedEvents(1, 3), true);
        expect(await readAll(id, 3, 500)).toEqual([]);

        const empty = await created();
        await store.append(empty, [], true);
        expect(await store.info(empty)).toMatchObject({ state: 'ended', firstPosition: 1, lastPosition: 0 });
        expect(await readAll(empty, 0, 500)).toEqual([]);
      });

      it('stops handing events to a read once it is unsubscribed', async () => {
        const id = await created();
        const leaving = follow(store.read(id, 0));
        const staying = follow(store.read(id, 0));
        await sleep(20);
        await store.append(id, storedEvents(1, 1));
        await waitForEvents(leaving, 1);
        leaving.subscription.unsubscribe();

        await store.append(id, storedEvents(2, 3));
        await store.append(id, [], true);
        // The reader that stayed has had time to get everything: so would have the one that left.
        expect(await within(staying.ended, 1_000, 'the other read to complete')).toEqual({ kind: 'complete' });
        await sleep(20);
        expect(staying.values).toEqual(storedEvents(1, 3));
        expect(leaving.values).toEqual(storedEvents(1, 1));
        expect(leaving.ending()).toBeUndefined();
      });
    });

    describe('append refusals', () => {
      it('rejects events whose positions do not follow the last one, keeping the stream as it was', async () => {
        const id = await created();
        await expect(store.append(id, [storedEvent(2)])).rejects.toBeInstanceOf(Error);
        await expect(store.append(id, [storedEvent(0)])).rejects.toBeInstanceOf(Error);
        await store.append(id, storedEvents(1, 2));
        await expect(store.append(id, [storedEvent(4)])).rejects.toBeInstanceOf(Error);
        await expect(store.append(id, [storedEvent(2)])).rejects.toBeInstanceOf(Error);
        await expect(store.append(id, [storedEvent(1)])).rejects.toBeInstanceOf(Error);
        expect(await store.info(id)).toMatchObject({ state: 'live', firstPosition: 1, lastPosition: 2 });
        expect(await readFirst(id, 0, 2)).toEqual(storedEvents(1, 2));
        // A batch with a gap inside is refused too (what it leaves stored is not part of the contract).
        await expect(store.append(id, [storedEvent(3), storedEvent(5)])).rejects.toBeInstanceOf(Error);
      });

      it('rejects an append to an unknown stream with StreamNotFoundError', async () => {
        await expect(store.append(newId(), [storedEvent(1)])).rejects.toBeInstanceOf(StreamNotFoundError);
        await expect(store.append(newId(), [], true)).rejects.toBeInstanceOf(StreamNotFoundError);
      });

      it('rejects an append to an ended stream with StreamNotFoundError, keeping its events', async () => {
        const id = await created();
        await store.append(id, storedEvents(1, 2), true);
        await expect(store.append(id, [storedEvent(3)])).rejects.toBeInstanceOf(StreamNotFoundError);
        await expect(store.append(id, [], true)).rejects.toBeInstanceOf(StreamNotFoundError);
        expect(await store.info(id)).toMatchObject({ state: 'ended', lastPosition: 2 });
        expect(await readAll(id, 0)).toEqual(storedEvents(1, 2));
      });
    });

    describe('maxEvents', () => {
      it('keeps the newest maxEvents: older positions are refused with StreamGapError, never skipped', async () => {
        const id = await created({ maxEvents: 3 });
        await store.append(id, storedEvents(1, 2));
        await store.append(id, storedEvents(3, 5));
        expect(await store.info(id)).toMatchObject({ state: 'live', firstPosition: 3, lastPosition: 5 });

        const gap = await readError(id, 1);
        expect(gap).toBeInstanceOf(StreamGapError);
        expect(gap).toMatchObject({ position: 1, firstPosition: 3 });
        expect(await readError(id, 0)).toMatchObject({ position: 0, firstPosition: 3 });
        expect(await readFirst(id, 2, 3)).toEqual(storedEvents(3, 5));
        expect(await readFirst(id, 4, 1)).toEqual(storedEvents(5, 5));

        await store.append(id, [], true);
        expect(await readAll(id, 2)).toEqual(storedEvents(3, 5));
        expect(await store.info(id)).toMatchObject({ state: 'ended', firstPosition: 3, lastPosition: 5 });
      });

      it('drops old events one by one as new ones come', async () => {
        const id = await created({ maxEvents: 3 });
        for (let position = 1; position <= 6; position++) {
          await store.append(id, [storedEvent(position)]);
          expect(await store.info(id)).toMatchObject({
            firstPosition: Math.max(1, position - 2),
            lastPosition: position,
          });
        }
      });

      it('does not cut off a reader that follows while old events are dropped', async () => {
        // Appends of at most maxEvents each: a store that writes a batch at once (Redis) trims as it adds.
        const id = await created({ maxEvents: 3 });
        const reader = follow(store.read(id, 0));
        await sleep(20);
        for (let from = 1; from <= 9; from += 3) {
          await store.append(id, storedEvents(from, from + 2));
          await waitForEvents(reader, from + 2);
        }
        await store.append(id, [], true);
        expect(await within(reader.ended, 1_000, 'the read to complete')).toEqual({ kind: 'complete' });
        expect(reader.values).toEqual(storedEvents(1, 9));
      });
    });

    describe('unknown streams', () => {
      it('errors a read with StreamNotFoundError', async () => {
        expect(await readError(newId(), 0)).toBeInstanceOf(StreamNotFoundError);
        expect(await readError(newId(), 5)).toBeInstanceOf(StreamNotFoundError);
      });

      it('answers info with undefined', async () => {
        expect(await store.info(newId())).toBeUndefined();
      });
    });

    describe('lease', () => {
      it('loses a stream whose lease lapses: a live reader gets the events appended, then StreamLostError', async () => {
        const start = Date.now();
        const id = await created({ leaseMs: 150 });
        const reader = follow(store.read(id, 0));
        await store.append(id, storedEvents(1, 2));
        const ending = await within(reader.ended, 1_000, 'the read to fail');
        const elapsed = Date.now() - start;
        expect(ending).toEqual({ kind: 'error', error: expect.any(StreamLostError) });
        expect(reader.values).toEqual(storedEvents(1, 2));
        expect(elapsed).toBeGreaterThanOrEqual(100);
        await waitUntil(async () => (await store.info(id))?.state === 'lost', 1_000, "state 'lost'");
        expect(await store.info(id)).toMatchObject({ state: 'lost', firstPosition: 1, lastPosition: 2 });
      });

      it('fails a read of a lost stream with StreamLostError after replaying it, and refuses appends', async () => {
        const id = await created({ leaseMs: 100 });
        await store.append(id, storedEvents(1, 2));
        await waitUntil(async () => (await store.info(id))?.state === 'lost', 1_000, "state 'lost'");

        const reader = record(store.read(id, 0));
        expect(await within(reader.ended, 1_000, 'the read to fail')).toEqual({
          kind: 'error',
          error: expect.any(StreamLostError),
        });
        expect(reader.values).toEqual(storedEvents(1, 2));

        await expect(store.append(id, [storedEvent(3)])).rejects.toBeInstanceOf(StreamNotFoundError);
        await store.renewLease(id, 10_000);
        expect(await store.info(id)).toMatchObject({ state: 'lost', lastPosition: 2 });
        expect(await store.requestStop(id)).toBe(false);
      });

      it('keeps a stream live past its first lease while the lease is renewed every 50 ms', async () => {
        const id = await created({ leaseMs: 150 });
        const reader = follow(store.read(id, 0));
        const renewing = setInterval(() => void store.renewLease(id, 150), 50);
        try {
          await sleep(450);
          expect(await store.info(id)).toMatchObject({ state: 'live' });
          expect(reader.ending()).toBeUndefined();
          await store.append(id, storedEvents(1, 1));
          await waitForEvents(reader, 1);
        } finally {
          clearInterval(renewing);
        }
        await store.append(id, [], true);
        expect(await within(reader.ended, 1_000, 'the read to complete')).toEqual({ kind: 'complete' });
        expect(reader.values).toEqual(storedEvents(1, 1));
      });

      it('does nothing when renewing the lease of an ended or unknown stream', async () => {
        const id = await created();
        await store.append(id, storedEvents(1, 1), true);
        await store.renewLease(id, 10_000);
        expect(await store.info(id)).toMatchObject({ state: 'ended', lastPosition: 1 });

        const unknown = newId();
        await store.renewLease(unknown, 10_000);
        expect(await store.info(unknown)).toBeUndefined();
      });
    });

    describe('ttl', () => {
      it('forgets an ended stream ttlMs after its end, not before its end', async () => {
        const id = await created({ ttlMs: 100 });
        await sleep(250);
        expect(await store.info(id)).toMatchObject({ state: 'live' });

        await store.append(id, storedEvents(1, 2), true);
        expect(await store.info(id)).toMatchObject({ state: 'ended', lastPosition: 2 });
        await waitUntil(async () => (await store.info(id)) === undefined, 1_000, 'the stream to be forgotten');
        expect(await readError(id, 0)).toBeInstanceOf(StreamNotFoundError);
        await expect(store.append(id, [storedEvent(3)])).rejects.toBeInstanceOf(StreamNotFoundError);
      });

      it('forgets a lost stream ttlMs after it was lost', async () => {
        const id = await created({ leaseMs: 100, ttlMs: 100 });
        await store.append(id, storedEvents(1, 1));
        await waitUntil(async () => (await store.info(id)) === undefined, 1_000, 'the stream to be forgotten');
        expect(await readError(id, 0)).toBeInstanceOf(StreamNotFoundError);
      });
    });

    describe('stop requests', () => {
      it('makes the request on a live stream, and tells a watcher that subscribed before, once', async () => {
        const id = await created();
        const watcher = record(store.stopRequests(id));
        open.push(watcher.subscription);
        await sleep(20);
        expect(watcher.values).toHaveLength(0);

        expect(await store.requestStop(id)).toBe(true);
        expect(await within(watcher.ended, 1_000, 'the watcher to complete')).toEqual({ kind: 'complete' });
        expect(watcher.values).toHaveLength(1);
        // A stop request does not end the stream: its producer does.
        expect(await store.info(id)).toMatchObject({ state: 'live' });
      });

      it('tells a watcher that subscribes after the request, at once', async () => {
        const id = await created();
        expect(await store.requestStop(id)).toBe(true);
        const seen = await lastValueFrom(store.stopRequests(id).pipe(timeout(500), toArray()));
        expect(seen).toHaveLength(1);
        expect(await store.requestStop(id)).toBe(true);
      });

      it('answers false for an ended or unknown stream', async () => {
        const id = await created();
        await store.append(id, storedEvents(1, 1), true);
        expect(await store.requestStop(id)).toBe(false);
        expect(await store.requestStop(newId())).toBe(false);
      });
    });

    describe('live streams per owner', () => {
      it('refuses a create beyond maxOpenPerOwner, creating nothing; other owners are not counted', async () => {
        const a = newOwner();
        const capped = { owner: a, maxOpenPerOwner: 2 };
        const first = await created(capped);
        await created(capped);
        const refused = newId();
        expect(await store.create(refused, options(capped))).toBe(false);
        expect(await store.info(refused)).toBeUndefined();
        await expect(store.append(refused, [storedEvent(1)])).rejects.toBeInstanceOf(StreamNotFoundError);

        const b = newOwner();
        await created({ owner: b, maxOpenPerOwner: 2 });
        await created({ owner: b, maxOpenPerOwner: 2 });

        await store.append(first, storedEvents(1, 1), true);
        expect(await store.create(refused, options(capped))).toBe(true);
        expect(await store.create(newId(), options(capped))).toBe(false);
      });

      it('does not cap streams without an owner', async () => {
        for (let count = 0; count < 3; count++) await created({ maxOpenPerOwner: 1 });
      });

      it('frees the place of a lost stream', async () => {
        const capped = { owner: newOwner(), maxOpenPerOwner: 1 };
        const id = await created({ ...capped, leaseMs: 100 });
        expect(await store.create(newId(), options(capped))).toBe(false);
        await waitUntil(async () => (await store.info(id))?.state === 'lost', 1_000, "state 'lost'");
        expect(await store.create(newId(), options(capped))).toBe(true);
      });
    });

    describe('readers', () => {
      it('has readers only while one is attached', async () => {
        const id = await created();
        expect(await store.hasReaders(id)).toBe(false);
        await store.attachReader(id, 'r1', 10_000);
        expect(await store.hasReaders(id)).toBe(true);
        await store.attachReader(id, 'r2', 10_000);
        await store.detachReader(id, 'r1');
        expect(await store.hasReaders(id)).toBe(true);
        await store.detachReader(id, 'r2');
        expect(await store.hasReaders(id)).toBe(false);
      });

      it('counts a reader no more once its ttlMs has run out', async () => {
        const id = await created();
        await store.attachReader(id, 'r1', 100);
        expect(await store.hasReaders(id)).toBe(true);
        await sleep(250);
        expect(await store.hasReaders(id)).toBe(false);
      });

      it('keeps a reader attached while it attaches again before its ttlMs', async () => {
        const id = await created();
        await store.attachReader(id, 'r1', 150);
        await sleep(100);
        await store.attachReader(id, 'r1', 150);
        await sleep(100);
        expect(await store.hasReaders(id)).toBe(true);
      });
    });

    describe('backoff', () => {
      const newKey = () => `key-${randomUUID()}`;

      it('holds no call of a key never held', async () => {
        expect(await store.callsHeldUntil(newKey())).toBeUndefined();
      });

      it('holds the calls until the time given, an earlier time not shortening it', async () => {
        const key = newKey();
        const until = Date.now() + 300;
        await store.holdCalls(key, until);
        expect(await store.callsHeldUntil(key)).toBe(until);
        await store.holdCalls(key, until - 200);
        expect(await store.callsHeldUntil(key)).toBe(until);
        await sleep(150);
        expect(await store.callsHeldUntil(key)).toBe(until);
        await sleep(until - Date.now() + 50);
        expect(await store.callsHeldUntil(key)).toBeUndefined();
      });

      it('extends a hold with a later time', async () => {
        const key = newKey();
        const now = Date.now();
        await store.holdCalls(key, now + 100);
        await store.holdCalls(key, now + 300);
        expect(await store.callsHeldUntil(key)).toBe(now + 300);
        await sleep(150);
        expect(await store.callsHeldUntil(key)).toBe(now + 300);
      });

      it('keeps the holds of different keys apart', async () => {
        const held = newKey();
        await store.holdCalls(held, Date.now() + 5_000);
        expect(await store.callsHeldUntil(newKey())).toBeUndefined();
      });
    });
  });
}
