import type { Redis } from 'ioredis';
import { catchError, EMPTY, filter, from, interval, map, merge, Observable, startWith, switchMap, take } from 'rxjs';
import { MemoryStreamStore } from '../resumable/memory-stream-store.js';
import { StreamGapError, StreamNotFoundError } from '../resumable/stream-errors.js';
import type { StoredEvent, StreamCreateOptions, StreamInfo, StreamStore } from '../resumable/stream-store.js';
import { RedisFollower } from './redis-follower.js';
import { RedisKeys } from './redis-keys.js';
import { ADMIT_OWNER, APPEND, CREATE, HAS_READERS, HOLD, RENEW, REQUEST_STOP } from './redis-scripts.js';

/**
 * Options of `RedisStreamStore`.
 *
 * @example
 * ```ts
 * import { RedisStreamStore, type RedisStreamStoreOptions } from 'claude-rx/redis';
 * const options: RedisStreamStoreOptions = { keyPrefix: 'chat:', flushMs: 25 };
 * ```
 */
export interface RedisStreamStoreOptions {
  /** What every key starts with. @defaultValue `'claude-rx:'` */
  readonly keyPrefix?: string;
  /**
   * How often the events produced here are written to Redis, in one round trip per stream: readers on other
   * instances see an event at most this late; readers here get it at once. @defaultValue 50
   */
  readonly flushMs?: number;
  /** How long one blocking read of the followed streams waits for news. @defaultValue 500 */
  readonly blockMs?: number;
  /**
   * How often a reader on this instance asks whether the producers of the streams it follows are still alive: a dead
   * producer is seen within its lease plus this. @defaultValue 1000
   */
  readonly leaseCheckMs?: number;
  /** How long a store operation may wait for Redis before it fails (a resume, a stop). @defaultValue 2000 */
  readonly commandTimeoutMs?: number;
  /** Told once, in one line without secrets, when Redis fails while streams are produced here. @defaultValue `console.warn` */
  readonly onWarning?: (message: string) => void;
}

/** A stream produced in this process: written to Redis behind its local copy. */
interface LocalStream {
  readonly ttlMs: number;
  readonly leaseMs: number;
  readonly owner: string | undefined;
  /** Events (and the end) not yet written to Redis, in order. */
  pending: StoredEvent[];
  final: boolean;
  finalWritten: boolean;
  writing: boolean;
  /** Redis refused the stream (it expired there, or its lease lapsed): it is no longer written. */
  abandoned: boolean;
}

/** Where Redis failed, said without its message (which may name hosts or users). */
function failureOf(error: unknown): string {
  // Read by shape, not `instanceof`: an error of another realm (a VM context, a worker) is an error too.
  if (typeof error === 'object' && error !== null) {
    const { name, code } = error as { name?: unknown; code?: unknown };
    const kind = typeof name === 'string' ? name : 'Error';
    return typeof code === 'string' ? `${kind} ${code}` : kind;
  }
  return typeof error;
}

/** The most events one write carries. */
const MAX_BATCH = 500;

/** How long the local copy of a stream produced here outlives its end. */
const LOCAL_TTL_MS = 30_000;

/** The reply of a script, as a number. */
const numberOf = (reply: unknown): number => Number(reply);

/**
 * A `StreamStore` on Redis, for many instances of an application: a stream produced on one instance is resumed, read
 * or stopped on any other; a reader anywhere keeps its producer from aborting at the grace; a reader learns within
 * seconds that the producer died; a 429's backoff holds every instance's calls.
 *
 * Events go to Redis Streams (entry id `0-<position>`, so that replay is `XRANGE` and the live follow `XREAD BLOCK`
 * from a position), written behind a local copy: every `flushMs`, one round trip per stream carries what came
 * meanwhile. Readers on the producing instance read the local copy, so that they get the whole answer even while
 * Redis fails (the stream is then not resumable elsewhere until Redis is back; one warning is logged). Readers on
 * other instances share one blocking connection per store. Stops go by pub/sub and by a key, so that a lost message
 * loses no stop. The key layout is in `RedisKeys`; every key expires; no secret is ever written.
 *
 * Give it an ioredis client of your own (`new Redis(url)`), which it also `duplicate()`s twice (a blocking reader and
 * a subscriber); `close()` ends those, not yours. It listens to the client's `error` events: a Redis that goes down
 * is told once (`onWarning`), not at every reconnect attempt. With a Redis Cluster, the keys of one stream share a slot.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { ClaudeStreamModule } from 'claude-rx/nest';
 * import { RedisStreamStore } from 'claude-rx/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
 * ClaudeStreamModule.forRoot({ store: new RedisStreamStore(redis), resume: { graceMs: 15_000 } });
 * ```
 */
export class RedisStreamStore implements StreamStore {
  private readonly keys: RedisKeys;
  private readonly local = new MemoryStreamStore();
  private readonly locals = new Map<string, LocalStream>();
  private readonly follower: RedisFollower;
  private readonly flushMs: number;
  private readonly commandTimeoutMs: number;
  private readonly warn: (message: string) => void;
  private warned = false;
  private closed = false;
  private readonly onRedisError = (error: unknown) => this.warnOnce(error);
  private flushTimer: ReturnType<typeof setInterval> | undefined;
  private subscriber: Redis | undefined;
  private readonly stopListeners = new Map<string, Set<() => void>>();
  private readonly ownerOf = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    options: RedisStreamStoreOptions = {},
  ) {
    if (typeof redis !== 'object' || redis === null || typeof (redis as Partial<Redis>).duplicate !== 'function') {
      throw new TypeError('RedisStreamStore: give it an ioredis client (new Redis(url))');
    }
    const {
      keyPrefix = 'claude-rx:',
      flushMs = 50,
      blockMs = 500,
      leaseCheckMs = 1_000,
      commandTimeoutMs = 2_000,
    } = options;
    for (const [name, value] of Object.entries({ flushMs, blockMs, leaseCheckMs, commandTimeoutMs })) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new TypeError(`RedisStreamStore: ${name} must be a positive number of milliseconds`);
      }
    }
    if (typeof keyPrefix !== 'string') throw new TypeError('RedisStreamStore: keyPrefix must be a string');
    this.keys = new RedisKeys(keyPrefix);
    this.flushMs = flushMs;
    this.commandTimeoutMs = commandTimeoutMs;
    this.warn = options.onWarning ?? ((message) => console.warn(message));
    // Every connection's errors (the client's, and the two this store opens) are told once, as one warning: ioredis
    // would otherwise print each reconnect attempt's error while Redis is down.
    redis.on('error', this.onRedisError);
    this.follower = new RedisFollower(redis, this.keys, { blockMs, leaseCheckMs, onError: this.onRedisError });
  }

  /**
   * Resolves once Redis answers; rejects at once with an error that says what to check when it does not within
   * `commandTimeoutMs` (`ClaudeStreamModule` calls it at start-up, so that a wrong URL fails the start, not a request).
   */
  async ready(): Promise<void> {
    try {
      await this.bounded(this.redis.ping());
    } catch (error) {
      throw new Error(
        `RedisStreamStore: Redis did not answer PING within ${this.commandTimeoutMs} ms (${failureOf(error)}): check ` +
          'that it runs, that the host, port and password of the ioredis client are right, and that this process can reach it',
        { cause: error },
      );
    }
  }

  async create(streamId: string, options: StreamCreateOptions): Promise<boolean> {
    const { owner, leaseMs, ttlMs, maxEvents, maxOpenPerOwner } = options;
    try {
      if (owner !== undefined && maxOpenPerOwner !== undefined) {
        const now = Date.now();
        const admitted = await this.bounded(
          this.redis.eval(
            ADMIT_OWNER,
            1,
            this.keys.owner(owner),
            streamId,
            now,
            now + leaseMs,
            maxOpenPerOwner,
            leaseMs,
          ),
        );
        if (numberOf(admitted) === 0) return false;
      }
      const keys = this.keys.stream(streamId);
      const created = await this.bounded(
        this.redis.eval(CREATE, 2, keys.meta, keys.lease, owner ?? '', leaseMs, ttlMs, maxEvents),
      );
      if (numberOf(created) === 0) throw new TypeError('RedisStreamStore: that stream id is taken');
    } catch (error) {
      if (error instanceof TypeError) throw error;
      // Redis is down: the stream runs here all the same, for its readers here; it is not resumable elsewhere.
      this.warnOnce(error);
      const local: LocalStream = this.newLocal(owner, leaseMs, ttlMs);
      local.abandoned = true;
      return this.createLocal(streamId, options, local);
    }
    return this.createLocal(streamId, options, this.newLocal(owner, leaseMs, ttlMs));
  }

  append(streamId: string, events: readonly StoredEvent[], final = false): Promise<void> {
    const local = this.locals.get(streamId);
    // Only the producing instance appends, and it always has the local copy.
    if (!local) return Promise.reject(new StreamNotFoundError());
    return this.local.append(streamId, events, final).then((): Promise<void> | undefined => {
      if (local.abandoned) return;
      local.pending.push(...events);
      if (final) {
        local.final = true;
        // The end goes out now, and the append resolves once it is written: readers elsewhere should not wait a flush
        // for it, and the owner's slot is free for its next stream.
        return this.flushStream(streamId, local);
      }
    });
  }

  async info(streamId: string): Promise<StreamInfo | undefined> {
    if (this.locals.has(streamId)) return this.local.info(streamId);
    const keys = this.keys.stream(streamId);
    const [meta, leased] = await this.bounded(
      Promise.all([this.redis.hmget(keys.meta, 'owner', 'state', 'first', 'last'), this.redis.exists(keys.lease)]),
    );
    const [owner, state, first, last] = meta;
    if (state === null || state === undefined) return undefined;
    return {
      owner: owner ?? undefined,
      state: state === 'live' ? (leased === 1 ? 'live' : 'lost') : 'ended',
      firstPosition: Number(first),
      lastPosition: Number(last),
    };
  }

  read(streamId: string, position: number): Observable<StoredEvent> {
    if (this.locals.has(streamId)) return this.local.read(streamId, position);
    return new Observable<StoredEvent>((subscriber) => {
      let stop: (() => void) | undefined;
      let left = false;
      this.info(streamId).then(
        (info) => {
          if (left) return;
          if (!info) subscriber.error(new StreamNotFoundError());
          else if (position < info.firstPosition - 1)
            subscriber.error(new StreamGapError(position, info.firstPosition));
          else stop = this.follower.follow(streamId, position, subscriber);
        },
        (error: unknown) => subscriber.error(error),
      );
      return () => {
        left = true;
        stop?.();
      };
    });
  }

  async renewLease(streamId: string, leaseMs: number): Promise<void> {
    await this.local.renewLease(streamId, leaseMs);
    const local = this.locals.get(streamId);
    if (!local || local.abandoned) return;
    const keys = this.keys.stream(streamId);
    try {
      const renewed = await this.bounded(this.redis.eval(RENEW, 3, keys.meta, keys.events, keys.lease, leaseMs));
      if (numberOf(renewed) === 0) local.abandoned = true;
      const owner = this.ownerOf.get(streamId);
      if (owner !== undefined) {
        await this.bounded(this.redis.zadd(this.keys.owner(owner), 'XX', Date.now() + leaseMs, streamId));
      }
    } catch (error) {
      this.warnOnce(error);
    }
  }

  async requestStop(streamId: string): Promise<boolean> {
    const keys = this.keys.stream(streamId);
    const here = this.locals.has(streamId);
    let stopped = false;
    try {
      stopped = numberOf(await this.bounded(this.redis.eval(REQUEST_STOP, 3, keys.meta, keys.stop, keys.lease))) === 1;
      if (stopped) await this.bounded(this.redis.publish(this.keys.stopChannel, streamId));
    } catch (error) {
      // A stream produced here is stopped here all the same.
      if (!here) throw error;
      this.warnOnce(error);
    }
    // Produced here: stopped at once, whatever Redis said.
    if (here) return (await this.local.requestStop(streamId)) || stopped;
    return stopped;
  }

  stopRequests(streamId: string): Observable<void> {
    const keys = this.keys.stream(streamId);
    // By pub/sub (at once), and by the key, looked at now and every second: a lost message loses no stop.
    const byMessage = new Observable<void>((subscriber) => {
      const listeners = this.stopListeners.get(streamId) ?? new Set<() => void>();
      const listener = () => subscriber.next();
      listeners.add(listener);
      this.stopListeners.set(streamId, listeners);
      void this.subscribed().catch((error: unknown) => this.warnOnce(error));
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) this.stopListeners.delete(streamId);
      };
    });
    const byKey = interval(1_000).pipe(
      startWith(0),
      switchMap(() =>
        from(this.bounded(this.redis.exists(keys.stop))).pipe(
          map((exists) => exists === 1),
          // A failing Redis is asked again at the next tick.
          catchError(() => EMPTY),
        ),
      ),
      filter(Boolean),
      map(() => undefined),
    );
    const here = this.locals.has(streamId) ? this.local.stopRequests(streamId) : EMPTY;
    return merge(here, byMessage, byKey).pipe(take(1));
  }

  async attachReader(streamId: string, readerId: string, ttlMs: number): Promise<void> {
    await this.local.attachReader(streamId, readerId, ttlMs);
    const keys = this.keys.stream(streamId);
    await this.bounded(
      this.redis
        .multi()
        .zadd(keys.readers, Date.now() + ttlMs, readerId)
        .pexpire(keys.readers, 2 * ttlMs)
        .exec(),
    );
  }

  async detachReader(streamId: string, readerId: string): Promise<void> {
    await this.local.detachReader(streamId, readerId);
    await this.bounded(this.redis.zrem(this.keys.stream(streamId).readers, readerId));
  }

  async hasReaders(streamId: string): Promise<boolean> {
    if (await this.local.hasReaders(streamId)) return true;
    try {
      const count = await this.bounded(this.redis.eval(HAS_READERS, 1, this.keys.stream(streamId).readers, Date.now()));
      return numberOf(count) > 0;
    } catch (error) {
      // Readers elsewhere cannot have been reading it meanwhile (they read it from Redis): none is what is known.
      this.warnOnce(error);
      return false;
    }
  }

  async holdCalls(key: string, untilMs: number): Promise<void> {
    await this.local.holdCalls(key, untilMs);
    try {
      await this.bounded(this.redis.eval(HOLD, 1, this.keys.backoff(key), Math.ceil(untilMs)));
    } catch (error) {
      // Held here at least.
      this.warnOnce(error);
    }
  }

  async callsHeldUntil(key: string): Promise<number | undefined> {
    const here = await this.local.callsHeldUntil(key);
    let there: number | undefined;
    try {
      const value = await this.bounded(this.redis.get(this.keys.backoff(key)));
      there = value === null ? undefined : Number(value);
    } catch {
      // Redis cannot say: what this process knows holds.
    }
    const until = Math.max(here ?? 0, there ?? 0);
    return until > Date.now() ? until : undefined;
  }

  /**
   * Writes to Redis, now, what the streams produced here have not written yet (the timer does it every `flushMs`).
   *
   * @example
   * ```ts
   * await store.append(streamId, events);
   * await store.flush(); // readers on other instances can read them now
   * ```
   */
  async flush(): Promise<void> {
    for (const [streamId, local] of [...this.locals]) await this.flushStream(streamId, local);
  }

  /** Writes what is pending of one stream: after the write in flight, if any, what came meanwhile. */
  private async flushStream(streamId: string, local: LocalStream): Promise<void> {
    while (local.writing) await new Promise((resolve) => setTimeout(resolve, 1));
    await this.writePending(streamId, local);
  }

  /** Writes what is pending, stops the timers and closes the connections this store opened (not the client given). */
  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush().catch(() => undefined);
    this.closed = true;
    await this.follower.close();
    this.redis.off('error', this.onRedisError);
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private newLocal(owner: string | undefined, leaseMs: number, ttlMs: number): LocalStream {
    return { owner, leaseMs, ttlMs, pending: [], final: false, finalWritten: false, writing: false, abandoned: false };
  }

  private async createLocal(streamId: string, options: StreamCreateOptions, local: LocalStream): Promise<boolean> {
    // The local copy has no owner cap of its own (Redis counted it, or cannot), and a short ttl: once written, the
    // stream is resumed from Redis.
    await this.local.create(streamId, {
      ...options,
      maxOpenPerOwner: undefined,
      ttlMs: Math.min(options.ttlMs, LOCAL_TTL_MS),
    });
    this.locals.set(streamId, local);
    if (options.owner !== undefined) this.ownerOf.set(streamId, options.owner);
    this.flushTimer ??= setInterval(() => this.flushAll(), this.flushMs);
    this.flushTimer.unref?.();
    return true;
  }

  private flushAll(): void {
    for (const [streamId, local] of this.locals) {
      if (local.abandoned) {
        // Its local copy expired: nothing more to keep.
        void this.local.info(streamId).then((info) => info === undefined && this.locals.delete(streamId));
        continue;
      }
      void this.writePending(streamId, local);
    }
    if (this.locals.size === 0) {
      clearInterval(this.flushTimer);
      this.flushTimer = undefined;
    }
  }

  /** One round trip with what is pending of one stream; in order, one at a time. */
  private async writePending(streamId: string, local: LocalStream): Promise<void> {
    if (local.writing || local.abandoned || local.finalWritten) return;
    if (local.pending.length === 0 && !local.final) return;
    // At most MAX_BATCH events a write: a burst (a fast answer, a backlog after an outage) must not become one script
    // that holds Redis, and every other client of it, for many milliseconds.
    const batch = local.pending.splice(0, MAX_BATCH);
    const final = local.final && local.pending.length === 0;
    local.writing = true;
    const keys = this.keys.stream(streamId);
    const args: (string | number)[] = [final ? '1' : '0', local.leaseMs, batch.length];
    for (const event of batch) args.push(event.position, event.type, event.data);
    let written = false;
    try {
      const last = numberOf(
        await this.bounded(this.redis.eval(APPEND, 3, keys.meta, keys.events, keys.lease, ...args)),
      );
      written = true;
      // Redis answers again: a later outage is told again, once.
      this.warned = false;
      if (last < 0) local.abandoned = true;
      else if (final) local.finalWritten = true;
      if (final || local.abandoned) await this.releaseOwner(streamId);
    } catch (error) {
      // Kept, in order, for the next flush: Redis back in time means no gap.
      local.pending.unshift(...batch);
      this.warnOnce(error);
    } finally {
      local.writing = false;
    }
    if (local.abandoned || local.finalWritten) this.forgetLater(streamId, local);
    // The rest of a burst goes at once, not a flush later (after a failure, it waits for the next flush).
    else if (written && (local.pending.length > 0 || local.final)) await this.writePending(streamId, local);
  }

  /** The owner's slot is free once the stream is over. */
  private async releaseOwner(streamId: string): Promise<void> {
    const owner = this.ownerOf.get(streamId);
    if (owner === undefined) return;
    this.ownerOf.delete(streamId);
    await this.bounded(this.redis.zrem(this.keys.owner(owner), streamId)).catch(() => undefined);
  }

  /**
   * A stream over and written to Redis is read from Redis from now on (readers here that are reading the local copy
   * go on with it, until its short local ttl). One that Redis never got stays local: resumable here only.
   */
  private forgetLater(streamId: string, local: LocalStream): void {
    if (local.finalWritten && !local.abandoned) this.locals.delete(streamId);
  }

  private async subscribed(): Promise<void> {
    if (this.subscriber) return;
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', (error: unknown) => this.warnOnce(error));
    subscriber.on('message', (_channel: string, streamId: string) => {
      for (const listener of this.stopListeners.get(streamId) ?? []) listener();
    });
    await subscriber.subscribe(this.keys.stopChannel);
  }

  private warnOnce(error: unknown): void {
    // After `close()`, what its own disconnections cause is no failure.
    if (this.warned || this.closed) return;
    this.warned = true;
    this.warn(
      `claude-rx: Redis failed (${failureOf(error)}): streams produced here go on for their readers here, but are not ` +
        'resumable on other instances until Redis is back',
    );
  }

  /** `promise`, or a rejection after `commandTimeoutMs`: a Redis that does not answer must not hang a request. */
  private bounded<T>(promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`RedisStreamStore: Redis did not answer within ${this.commandTimeoutMs} ms`)),
        this.commandTimeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
