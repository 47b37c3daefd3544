import { lastValueFrom, Subject, take, takeUntil, timeout, toArray } from 'rxjs';
import { MemoryStreamStore, StreamGapError, type StoredEvent, type StreamCreateOptions } from 'claude-rx';
import { trackUnhandledRejections } from '../support/harness.js';
import {
  describeStreamStoreContract,
  positionsOf,
  record,
  storedEvent,
  storedEvents,
} from '../support/stream-store-contract.js';

describeStreamStoreContract('MemoryStreamStore', async () => ({ store: new MemoryStreamStore() }));

describe('MemoryStreamStore', () => {
  const rejections = trackUnhandledRejections();
  afterEach(() => expect(rejections).toEqual([]));

  const OPTIONS: StreamCreateOptions = { leaseMs: 10_000, ttlMs: 10_000, maxEvents: 1_000 };
  let counter = 0;
  const newStream = async (store: MemoryStreamStore, options: Partial<StreamCreateOptions> = {}) => {
    const id = `memory-${++counter}`;
    expect(await store.create(id, { ...OPTIONS, ...options })).toBe(true);
    return id;
  };

  describe('unsubscribing inside next', () => {
    it('hands a live reader that unsubscribes in next nothing more; the others get everything', async () => {
      const store = new MemoryStreamStore();
      const id = await newStream(store);
      const before = record(store.read(id, 0));
      const leaving: StoredEvent[] = [];
      const subscription = store.read(id, 0).subscribe((event) => {
        leaving.push(event);
        if (event.position === 2) subscription.unsubscribe();
      });
      const after = record(store.read(id, 0));

      await store.append(id, storedEvents(1, 3));
      await store.append(id, storedEvents(4, 5), true);
      expect(positionsOf(leaving)).toEqual([1, 2]);
      expect(before.values).toEqual(storedEvents(1, 5));
      expect(after.values).toEqual(storedEvents(1, 5));
      expect(after.ending()).toEqual({ kind: 'complete' });
    });

    it('hands a reader that is unsubscribed by another inside its next nothing more', async () => {
      const store = new MemoryStreamStore();
      const id = await newStream(store);
      const victim = record(store.read(id, 0));
      const killer = record(store.read(id, 0));
      // Subscribed after both: handed each event after them.
      const trigger = store.read(id, 0).subscribe((event) => {
        if (event.position === 2) victim.subscription.unsubscribe();
      });
      const trailing = record(store.read(id, 0));

      await store.append(id, storedEvents(1, 4), true);
      trigger.unsubscribe();
      expect(positionsOf(victim.values)).toEqual([1, 2]);
      expect(victim.ending()).toBeUndefined();
      expect(killer.values).toEqual(storedEvents(1, 4));
      expect(trailing.values).toEqual(storedEvents(1, 4));
    });

    it('stops a replay at once when its reader unsubscribes in next', async () => {
      const store = new MemoryStreamStore();
      const id = await newStream(store);
      await store.append(id, storedEvents(1, 5), true);
      const stop = new Subject<void>();
      const seen: number[] = [];
      let outcome = 'none';
      // takeUntil unsubscribes the read synchronously, inside the read's own `next`, in the middle of its replay.
      store
        .read(id, 0)
        .pipe(takeUntil(stop))
        .subscribe({
          next: (event) => {
            seen.push(event.position);
            if (event.position === 2) stop.next();
          },
          complete: () => (outcome = 'complete'),
        });
      expect(seen).toEqual([1, 2]);
      expect(outcome).toBe('complete');
      expect(await lastValueFrom(store.read(id, 0).pipe(timeout(1_000), toArray()))).toEqual(storedEvents(1, 5));
    });
  });

  describe('appending inside next', () => {
    /** Reads `id` from 0; in the `next` of each event, appends the event at the position `toAppend` gives, if any. */
    const appendingReader = (
      store: MemoryStreamStore,
      id: string,
      toAppend: (position: number) => number | undefined,
    ) => {
      const seen: number[] = [];
      const failures: unknown[] = [];
      const subscription = store.read(id, 0).subscribe((event) => {
        seen.push(event.position);
        const position = toAppend(event.position);
        if (position !== undefined) {
          store.append(id, [storedEvent(position)]).catch((error: unknown) => failures.push(error));
        }
      });
      return { seen, failures, subscription };
    };

    it('hands a reader that appends in the next of live events every event once, in order, and one before it', async () => {
      const store = new MemoryStreamStore();
      const id = await newStream(store);
      const before = record(store.read(id, 0));
      const appending = appendingReader(store, id, (position) => (position < 5 ? position + 1 : undefined));

      await store.append(id, [storedEvent(1)]);
      await store.append(id, [], true);
      expect(appending.failures).toEqual([]);
      expect(appending.seen).toEqual([1, 2, 3, 4, 5]);
      expect(positionsOf(before.values)).toEqual([1, 2, 3, 4, 5]);
      expect(before.ending()).toEqual({ kind: 'complete' });
    });

    // Nested appends (each starts before the previous one settled, which the contract does not ask callers to do) once
    // reached a later follower innermost first, 5 then 4..1, which it dropped: it got [5] only.
    it('hands every event once, in order, to a reader subscribed after one that appends in next', async () => {
      const store = new MemoryStreamStore();
      const id = await newStream(store);
      appendingReader(store, id, (position) => (position < 5 ? position + 1 : undefined));
      const after = record(store.read(id, 0));

      await store.append(id, [storedEvent(1)]);
      await store.append(id, [], true);
      expect(positionsOf(after.values)).toEqual([1, 2, 3, 4, 5]);
    });

    it('hands every event once, in order, to the readers around one that appends during its replay', async () => {
      const store = new MemoryStreamStore();
      const id = await newStream(store);
      await store.append(id, storedEvents(1, 3));
      const before = record(store.read(id, 0));
      const appending = appendingReader(store, id, (position) => (position === 2 ? 4 : undefined));
      const after = record(store.read(id, 0));

      await store.append(id, [], true);
      expect(appending.failures).toEqual([]);
      expect(positionsOf(before.values)).toEqual([1, 2, 3, 4]);
      expect(positionsOf(after.values)).toEqual([1, 2, 3, 4]);
    });

    // Event 4, appended in the `next` of replayed event 2, once reached the reader live ahead of event 3, which the
    // replay then skipped as already handed: [1, 2, 4], with no error.
    it('hands a reader that appends during its replay every event once, in order', async () => {
      const store = new MemoryStreamStore();
      const id = await newStream(store);
      await store.append(id, storedEvents(1, 3));
      const appending = appendingReader(store, id, (position) => (position === 2 ? 4 : undefined));

      await store.append(id, [], true);
      expect(appending.failures).toEqual([]);
      expect(appending.seen).toEqual([1, 2, 3, 4]);
    });
  });

  describe('trimming', () => {
    it('keeps reads right from any kept position while 10 000 events go through maxEvents 2000', async () => {
      const store = new MemoryStreamStore();
      const maxEvents = 2_000;
      const total = 10_000;
      const id = await newStream(store, { maxEvents });
      const follower = record(store.read(id, 0));
      // Batches of many sizes, some beyond maxEvents, so that every way of dropping events is taken.
      const sizes = [1, 7, 64, 1, 333, 1_500, 2, 2_500, 999, 1_024, 1_025];
      let last = 0;
      for (let batch = 0; last < total; batch++) {
        const size = Math.min(sizes[batch % sizes.length]!, total - last);
        await store.append(id, storedEvents(last + 1, last + size));
        last += size;
        const first = Math.max(1, last - maxEvents + 1);
        expect(await store.info(id)).toMatchObject({ firstPosition: first, lastPosition: last });
        const kept = await lastValueFrom(
          store.read(id, first - 1).pipe(take(last - first + 1), timeout(1_000), toArray()),
        );
        expect(kept).toEqual(storedEvents(first, last));
        if (first > 1) {
          const gap = await lastValueFrom(store.read(id, first - 2).pipe(timeout(1_000)), {
            defaultValue: undefined,
          }).catch((error: unknown) => error);
          expect(gap).toEqual(expect.any(StreamGapError));
          expect(gap).toMatchObject({ position: first - 2, firstPosition: first });
        }
      }
      await store.append(id, [], true);
      expect(await store.info(id)).toMatchObject({ state: 'ended', firstPosition: 8_001, lastPosition: 10_000 });

      for (const position of [8_000, 8_001, 8_500, 9_023, 9_999, 10_000]) {
        const events = await lastValueFrom(store.read(id, position).pipe(timeout(1_000), toArray()));
        expect(events).toEqual(storedEvents(position + 1, total));
      }
      await expect(lastValueFrom(store.read(id, 7_999).pipe(timeout(1_000)))).rejects.toMatchObject({
        position: 7_999,
        firstPosition: 8_001,
      });
      // The reader that followed from the start was never cut off.
      expect(follower.values).toEqual(storedEvents(1, total));
      expect(follower.ending()).toEqual({ kind: 'complete' });
    });
  });
});
