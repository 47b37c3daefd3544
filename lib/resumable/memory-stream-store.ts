import { Observable, type Subscriber } from 'rxjs';
import { StreamGapError, StreamLostError, StreamNotFoundError } from './stream-errors.js';
import type { StoredEvent, StreamCreateOptions, StreamInfo, StreamState, StreamStore } from './stream-store.js';

/** One stream as this store keeps it. */
interface MemoryStream {
  readonly owner: string | undefined;
  readonly ttlMs: number;
  readonly maxEvents: number;
  state: StreamState;
  /** The events kept, oldest first: `events[i]` is at position `firstPosition + i`. */
  events: StoredEvent[];
  firstPosition: number;
  lastPosition: number;
  /** Readers following it live: each is told to catch up when the stream has news (an event, its end). */
  readonly followers: Set<() => void>;
  /** Those waiting for a stop request. */
  readonly stopWatchers: Set<Subscriber<void>>;
  stopRequested: boolean;
  /** Reader id → until when it is attached. */
  readonly readers: Map<string, number>;
  /** Fires when the lease lapses (live), or when the stream expires (ended, lost). */
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Beyond this many dropped events, the kept ones are copied into a new array (amortised trimming). */
const TRIM_SLACK = 1024;

/**
 * The `StreamStore` of one process, the default: everything in memory, nothing shared with other processes. Every
 * entry expires (a stream `ttlMs` after its end, a backoff at its end), through unref'd timers that never keep the
 * process alive.
 *
 * Use `RedisStreamStore` (`claude-rx/redis`) when several instances serve the same clients.
 *
 * @example
 * ```ts
 * import { MemoryStreamStore, ResumableStreams } from 'claude-rx';
 *
 * const streams = new ResumableStreams({ store: new MemoryStreamStore() });
 * ```
 */
export class MemoryStreamStore implements StreamStore {
  private readonly streams = new Map<string, MemoryStream>();
  /** Owner → ids of its live streams. */
  private readonly liveByOwner = new Map<string, Set<string>>();
  /** Backoff key → until when. */
  private readonly holds = new Map<string, number>();

  create(streamId: string, options: StreamCreateOptions): Promise<boolean> {
    if (this.streams.has(streamId)) return Promise.reject(new TypeError('MemoryStreamStore: that stream id is taken'));
    const { owner, leaseMs, ttlMs, maxEvents, maxOpenPerOwner } = options;
    if (owner !== undefined && maxOpenPerOwner !== undefined) {
      if ((this.liveByOwner.get(owner)?.size ?? 0) >= maxOpenPerOwner) return Promise.resolve(false);
    }
    const stream: MemoryStream = {
      owner,
      ttlMs,
      maxEvents,
      state: 'live',
      events: [],
      firstPosition: 1,
      lastPosition: 0,
      followers: new Set(),
      stopWatchers: new Set(),
      stopRequested: false,
      readers: new Map(),
      timer: undefined,
    };
    this.streams.set(streamId, stream);
    if (owner !== undefined) {
      const live = this.liveByOwner.get(owner) ?? new Set<string>();
      live.add(streamId);
      this.liveByOwner.set(owner, live);
    }
    this.arm(stream, leaseMs, () => this.lose(streamId, stream));
    return Promise.resolve(true);
  }

  append(streamId: string, events: readonly StoredEvent[], final = false): Promise<void> {
    const stream = this.streams.get(streamId);
    if (!stream || stream.state !== 'live') return Promise.reject(new StreamNotFoundError());
    // All or nothing: the whole batch is checked before any of it is stored or handed out.
    for (const [index, event] of events.entries()) {
      if (event.position !== stream.lastPosition + 1 + index) {
        return Promise.reject(
          new TypeError(`MemoryStreamStore: position ${event.position} does not follow ${stream.lastPosition + index}`),
        );
      }
    }
    for (const event of events) {
      stream.events.push(event);
      stream.lastPosition = event.position;
      // A follower may leave inside `next` (a Set skips what was deleted), or another join (it is visited too, and
      // has nothing to catch up on): no copy of the set per event.
      for (const catchUp of stream.followers) catchUp();
    }
    this.trim(stream);
    if (final) this.end(streamId, stream, 'ended');
    return Promise.resolve();
  }

  info(streamId: string): Promise<StreamInfo | undefined> {
    const stream = this.streams.get(streamId);
    return Promise.resolve(
      stream && {
        owner: stream.owner,
        state: stream.state,
        firstPosition: stream.firstPosition,
        lastPosition: stream.lastPosition,
      },
    );
  }

  read(streamId: string, position: number): Observable<StoredEvent> {
    return new Observable<StoredEvent>((subscriber) => {
      const stream = this.streams.get(streamId);
      if (!stream) {
        subscriber.error(new StreamNotFoundError());
        return;
      }
      let handedUpTo = position;
      let catchingUp = false;
      // Hands every event after `handedUpTo` that the stream has, in order, then its end. One loop for the replay and
      // the live events: an append made inside `next` (by this reader or another) is picked up by the loop running,
      // never handed ahead of the events before it.
      const catchUp = () => {
        if (catchingUp) return;
        catchingUp = true;
        while (!subscriber.closed && handedUpTo < stream.lastPosition) {
          if (handedUpTo + 1 < stream.firstPosition) {
            subscriber.error(new StreamGapError(handedUpTo, stream.firstPosition));
            break;
          }
          // `events` may still hold a few dropped events before `firstPosition` (see `trim`).
          const keptFrom = stream.lastPosition - stream.events.length + 1;
          const event = stream.events[handedUpTo + 1 - keptFrom]!;
          handedUpTo = event.position;
          subscriber.next(event);
        }
        catchingUp = false;
        if (subscriber.closed) return;
        if (stream.state === 'ended') subscriber.complete();
        else if (stream.state === 'lost') subscriber.error(new StreamLostError());
      };
      stream.followers.add(catchUp);
      subscriber.add(() => stream.followers.delete(catchUp));
      catchUp();
    });
  }

  renewLease(streamId: string, leaseMs: number): Promise<void> {
    const stream = this.streams.get(streamId);
    if (stream?.state === 'live') this.arm(stream, leaseMs, () => this.lose(streamId, stream));
    return Promise.resolve();
  }

  requestStop(streamId: string): Promise<boolean> {
    const stream = this.streams.get(streamId);
    if (stream?.state !== 'live') return Promise.resolve(false);
    stream.stopRequested = true;
    for (const watcher of [...stream.stopWatchers]) {
      watcher.next();
      watcher.complete();
    }
    return Promise.resolve(true);
  }

  stopRequests(streamId: string): Observable<void> {
    return new Observable<void>((subscriber) => {
      const stream = this.streams.get(streamId);
      if (!stream) return;
      if (stream.stopRequested) {
        subscriber.next();
        subscriber.complete();
        return;
      }
      stream.stopWatchers.add(subscriber);
      return () => stream.stopWatchers.delete(subscriber);
    });
  }

  attachReader(streamId: string, readerId: string, ttlMs: number): Promise<void> {
    this.streams.get(streamId)?.readers.set(readerId, Date.now() + ttlMs);
    return Promise.resolve();
  }

  detachReader(streamId: string, readerId: string): Promise<void> {
    this.streams.get(streamId)?.readers.delete(readerId);
    return Promise.resolve();
  }

  hasReaders(streamId: string): Promise<boolean> {
    const readers = this.streams.get(streamId)?.readers;
    if (!readers) return Promise.resolve(false);
    const now = Date.now();
    for (const [readerId, until] of readers) {
      if (until > now) return Promise.resolve(true);
      readers.delete(readerId);
    }
    return Promise.resolve(false);
  }

  holdCalls(key: string, untilMs: number): Promise<void> {
    const held = this.holds.get(key);
    if (held === undefined || untilMs > held) {
      this.holds.set(key, untilMs);
      // Forgotten at its end, so that the map does not grow with every (key, model) ever held.
      const timer = setTimeout(
        () => {
          if (this.holds.get(key) === untilMs) this.holds.delete(key);
        },
        Math.max(0, untilMs - Date.now()),
      );
      timer.unref?.();
    }
    return Promise.resolve();
  }

  callsHeldUntil(key: string): Promise<number | undefined> {
    const held = this.holds.get(key);
    return Promise.resolve(held !== undefined && held > Date.now() ? held : undefined);
  }

  /** Drops the oldest events beyond `maxEvents`, copying the array only now and then. */
  private trim(stream: MemoryStream): void {
    const excess = stream.lastPosition - stream.firstPosition + 1 - stream.maxEvents;
    if (excess <= 0) return;
    stream.firstPosition += excess;
    const dropped = stream.firstPosition - (stream.lastPosition - stream.events.length + 1);
    if (dropped >= TRIM_SLACK || dropped * 2 >= stream.events.length) {
      stream.events = stream.events.slice(dropped);
    }
  }

  private lose(streamId: string, stream: MemoryStream): void {
    if (stream.state !== 'live') return;
    this.end(streamId, stream, 'lost');
  }

  private end(streamId: string, stream: MemoryStream, state: 'ended' | 'lost'): void {
    stream.state = state;
    stream.readers.clear();
    if (stream.owner !== undefined) {
      const live = this.liveByOwner.get(stream.owner);
      live?.delete(streamId);
      if (live?.size === 0) this.liveByOwner.delete(stream.owner);
    }
    this.arm(stream, stream.ttlMs, () => this.streams.delete(streamId));
    for (const watcher of [...stream.stopWatchers]) watcher.complete();
    const followers = [...stream.followers];
    stream.followers.clear();
    for (const catchUp of followers) catchUp();
  }

  private arm(stream: MemoryStream, ms: number, fire: () => void): void {
    clearTimeout(stream.timer);
    stream.timer = setTimeout(fire, ms);
    stream.timer.unref?.();
  }
}
