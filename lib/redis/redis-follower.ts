import type { Redis } from 'ioredis';
import type { Subscriber } from 'rxjs';
import { StreamGapError, StreamLostError, StreamNotFoundError } from '../resumable/stream-errors.js';
import type { StoredEvent } from '../resumable/stream-store.js';
import type { RedisKeys } from './redis-keys.js';

/** One reader following a stream through Redis. */
interface Follower {
  /** The position it has; it is handed what comes after. */
  after: number;
  readonly subscriber: Subscriber<StoredEvent>;
}

/** The entry id of the end marker, after every event's `0-<position>`. */
const END_ID = '1-0';
/** How many entries one read takes per stream. */
const BATCH = 1000;

/** The position of an event entry id (`0-<position>`). */
function positionOf(entryId: string): number {
  return Number(entryId.slice(2));
}

function eventOf(entryId: string, fields: string[]): StoredEvent {
  let type = '';
  let data = '';
  for (let index = 0; index < fields.length; index += 2) {
    if (fields[index] === 't') type = fields[index + 1]!;
    else if (fields[index] === 'd') data = fields[index + 1]!;
  }
  return { position: positionOf(entryId), type, data };
}

/**
 * Follows, for one `RedisStreamStore`, every stream read in this process but produced elsewhere, on one blocking
 * connection of its own (`XREAD BLOCK` over all their keys at once, not one connection per reader). A reader is
 * handed what is stored after its position, then what is appended, in order, each once; a new one wakes the blocked
 * read (`CLIENT UNBLOCK`) so that it starts at once. Every `leaseCheckMs` it asks whether the producers of the
 * streams followed are still alive: a lapsed lease hands the reader what was stored, then `StreamLostError`.
 */
export class RedisFollower {
  private readonly followed = new Map<string, Set<Follower>>();
  private blocking: Redis | undefined;
  private blockingId: number | undefined;
  private running = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private lastLeaseCheck = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: {
      readonly blockMs: number;
      readonly leaseCheckMs: number;
      /** Told of the blocking connection's errors (it reconnects by itself). */
      readonly onError: (error: unknown) => void;
    },
  ) {}

  /** Hands `subscriber` the events of `streamId` after `position`, then its end. Returns the teardown. */
  follow(streamId: string, position: number, subscriber: Subscriber<StoredEvent>): () => void {
    const follower: Follower = { after: position, subscriber };
    let followers = this.followed.get(streamId);
    const isNew = !followers;
    if (!followers) {
      followers = new Set();
      this.followed.set(streamId, followers);
    }
    followers.add(follower);
    this.start();
    if (isNew) this.interrupt();
    else this.wake?.();
    return () => {
      const current = this.followed.get(streamId);
      current?.delete(follower);
      if (current?.size === 0) this.followed.delete(streamId);
    };
  }

  /** Stops the loop and closes its connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    const blocking = this.blocking;
    this.blocking = undefined;
    if (blocking) blocking.disconnect();
    await Promise.resolve();
  }

  private start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
    });
  }

  /** Wakes the loop now: from its idle wait, or from a blocked read (to read a new stream's key too). */
  private interrupt(): void {
    this.wake?.();
    if (this.blockingId !== undefined) {
      this.redis.client('UNBLOCK', this.blockingId).catch(() => undefined);
    }
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      if (this.followed.size === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      try {
        await this.readOnce();
        if (Date.now() - this.lastLeaseCheck >= this.options.leaseCheckMs) await this.checkProducers();
      } catch (error) {
        if (this.closed) return;
        // Redis failed: the readers are told (their streams cannot go on from here), and may resume later.
        for (const [streamId, followers] of this.followed) {
          this.followed.delete(streamId);
          for (const { subscriber } of followers) subscriber.error(error);
        }
      }
    }
  }

  private async connection(): Promise<Redis> {
    if (!this.blocking) {
      this.blocking = this.redis.duplicate();
      this.blocking.on('error', this.options.onError);
      this.blockingId = Number(await this.blocking.client('ID'));
    }
    return this.blocking;
  }

  private async readOnce(): Promise<void> {
    const blocking = await this.connection();
    const streamIds = [...this.followed.keys()];
    const from = streamIds.map((streamId) => {
      let after = Infinity;
      for (const follower of this.followed.get(streamId)!) after = Math.min(after, follower.after);
      return `0-${after}`;
    });
    const result = await blocking.xread(
      'COUNT',
      BATCH,
      'BLOCK',
      this.options.blockMs,
      'STREAMS',
      ...streamIds.map((streamId) => this.keys.stream(streamId).events),
      ...from,
    );
    for (const [key, entries] of result ?? []) {
      const streamId = streamIds[streamIds.findIndex((id) => this.keys.stream(id).events === key)]!;
      this.deliver(streamId, entries);
    }
  }

  /** Hands each follower of the stream the entries after its position; the end marker completes it. */
  private deliver(streamId: string, entries: readonly [string, string[]][]): void {
    const followers = this.followed.get(streamId);
    if (!followers) return;
    for (const follower of [...followers]) {
      for (const [entryId, fields] of entries) {
        if (follower.subscriber.closed) break;
        if (entryId === END_ID) {
          followers.delete(follower);
          follower.subscriber.complete();
          break;
        }
        const position = positionOf(entryId);
        if (position <= follower.after) continue;
        if (position > follower.after + 1) {
          // Dropped (`maxEvents`) before this reader got them: refused, never skipped.
          followers.delete(follower);
          follower.subscriber.error(new StreamGapError(follower.after, position));
          break;
        }
        follower.after = position;
        follower.subscriber.next(eventOf(entryId, fields));
      }
    }
    if (followers.size === 0) this.followed.delete(streamId);
  }

  /** Ends the readers of streams that expired, or whose producer's lease lapsed (after what was stored). */
  private async checkProducers(): Promise<void> {
    this.lastLeaseCheck = Date.now();
    const streamIds = [...this.followed.keys()];
    const pipeline = this.redis.pipeline();
    for (const streamId of streamIds) {
      const keys = this.keys.stream(streamId);
      pipeline.hget(keys.meta, 'state');
      pipeline.exists(keys.lease);
    }
    const replies = (await pipeline.exec()) ?? [];
    for (const [index, streamId] of streamIds.entries()) {
      const state = replies[index * 2]?.[1] as string | null | undefined;
      const leased = replies[index * 2 + 1]?.[1] === 1;
      if (state === 'live' && leased) continue;
      if (state === 'ended') continue; // its end marker is on its way
      const followers = this.followed.get(streamId);
      if (!followers) continue;
      if (state === 'live') {
        // What the producer stored before it died is handed first.
        const rest = (await this.redis.xrange(this.keys.stream(streamId).events, '0-1', '+')) as [string, string[]][];
        this.deliver(streamId, rest);
      }
      const left = this.followed.get(streamId);
      this.followed.delete(streamId);
      for (const { subscriber } of left ?? []) {
        subscriber.error(state === 'live' ? new StreamLostError() : new StreamNotFoundError());
      }
    }
  }
}
