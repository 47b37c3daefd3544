import type { Observable } from 'rxjs';

/**
 * One event of a resumable stream as a store keeps it: its SSE event name (`type`), its `data` (one line of JSON, as
 * it goes out on the wire) and its position in the stream (1, 2, 3, ... with no gap).
 *
 * @example
 * ```ts
 * import type { StoredEvent } from 'claude-rx';
 *
 * const first: StoredEvent = { position: 1, type: 'message_start', data: '{"type":"message_start",...}' };
 * ```
 */
export interface StoredEvent {
  readonly position: number;
  readonly type: string;
  readonly data: string;
}

/**
 * What `StreamStore.create()` is told about a new stream.
 *
 * @example
 * ```ts
 * await store.create(streamId, { owner: 'user-42', leaseMs: 10_000, ttlMs: 300_000, maxEvents: 50_000, maxOpenPerOwner: 5 });
 * ```
 */
export interface StreamCreateOptions {
  /** Whom the stream belongs to (e.g. a user id); only the same owner may read or stop it. @defaultValue nobody */
  readonly owner?: string | undefined;
  /**
   * How long the producer is taken for alive without renewing its lease (`renewLease`); after that, the stream is
   * `lost` and its readers fail with `StreamLostError`.
   */
  readonly leaseMs: number;
  /** How long the stream is kept once it has ended (its final event appended) or was lost. */
  readonly ttlMs: number;
  /** The most events the stream keeps: beyond it, the oldest are dropped (`StreamInfo.firstPosition` moves on). */
  readonly maxEvents: number;
  /** The most streams of `owner` that may be live at once: `create` refuses one more. @defaultValue no limit */
  readonly maxOpenPerOwner?: number | undefined;
}

/**
 * Where a stream stands: `live` while its producer appends, `ended` once its final event is appended, `lost` when
 * its producer stopped renewing its lease before the end (its process died).
 */
export type StreamState = 'live' | 'ended' | 'lost';

/**
 * What a store knows of one stream.
 *
 * @example
 * ```ts
 * const info = await store.info(streamId);
 * if (info?.state === 'ended' && position === info.lastPosition) return 204; // the reader has everything
 * ```
 */
export interface StreamInfo {
  /** Whom it belongs to, as given to `create`. */
  readonly owner: string | undefined;
  readonly state: StreamState;
  /** The position of the oldest event still kept: 1, unless `maxEvents` dropped some; `lastPosition + 1` when none. */
  readonly firstPosition: number;
  /** The position of the newest event; 0 before the first. */
  readonly lastPosition: number;
}

/**
 * What the instances of an application share for resumable streams: each stream's events with their positions
 * (replayed, then followed live), stop requests, reader presence, producer liveness, and the rate-limit backoff.
 *
 * `MemoryStreamStore` (one process, the default) and `RedisStreamStore` (`claude-rx/redis`, many instances) implement
 * it; so may a store of your own. The contract, which `ResumableStreams` relies on:
 *
 * - Every key a store writes expires: a stream `ttlMs` after its end, a live one once its lease lapses and `ttlMs`
 *   passes, a reader's presence after its own `ttlMs`, a backoff at its end.
 * - A store never sees a secret: ids are random, owners are what the application gives, backoff keys are hashes.
 * - Positions are appended in order, with no gap; `append` is called again only after the previous one settled.
 * - Times are epoch milliseconds.
 *
 * @example
 * ```ts
 * import { MemoryStreamStore, ResumableStreams, type StreamStore } from 'claude-rx';
 *
 * const store: StreamStore = new MemoryStreamStore();
 * const streams = new ResumableStreams({ store, graceMs: 15_000 });
 * ```
 */
export interface StreamStore {
  /**
   * Registers a new, live stream with no event, and the producer's first lease of `options.leaseMs`.
   *
   * @returns `false`, creating nothing, when `options.owner` already has `options.maxOpenPerOwner` live streams.
   * @throws `TypeError` when a stream of that id exists already.
   */
  create(streamId: string, options: StreamCreateOptions): Promise<boolean>;

  /**
   * Appends events (their positions follow the stream's last one, without gap), all or none. With `final`, the
   * stream ends after them (`final` may come with no event): it is kept `ttlMs` longer, then forgotten.
   *
   * @throws `StreamNotFoundError` (`CLAUDE_RX_STREAM_NOT_FOUND`) when the stream is unknown, expired or not live.
   */
  append(streamId: string, events: readonly StoredEvent[], final?: boolean): Promise<void>;

  /** What the store knows of the stream; `undefined` when it is unknown or expired. */
  info(streamId: string): Promise<StreamInfo | undefined>;

  /**
   * The stream's events after `position`, in order, each once: those kept, then live ones as they are appended.
   *
   * - complete: after the final event (at once if the stream had ended after `position`);
   * - error: `StreamNotFoundError` when the stream is unknown or expired; `StreamGapError` when events after
   *   `position` were dropped (`maxEvents`), never a silent gap; `StreamLostError` when the producer's lease lapses
   *   before the end;
   * - unsubscribe: stops following.
   */
  read(streamId: string, position: number): Observable<StoredEvent>;

  /** Extends the producer's lease to `leaseMs` from now. Does nothing once the stream has ended or was lost. */
  renewLease(streamId: string, leaseMs: number): Promise<void>;

  /**
   * Asks the stream's producer, wherever it runs, to stop. Durable: a producer that looks after the request still
   * sees it (`stopRequests`).
   *
   * @returns `true` when the stream is live (the request was made), `false` when it is unknown or no longer live.
   */
  requestStop(streamId: string): Promise<boolean>;

  /** Emits once, then completes, when a stop of the stream is requested, or at once if it was before. */
  stopRequests(streamId: string): Observable<void>;

  /**
   * Marks a reader of the stream as attached for `ttlMs` (call it again before that to stay attached). Readers on any
   * instance count.
   */
  attachReader(streamId: string, readerId: string, ttlMs: number): Promise<void>;

  /** Marks the reader as gone. */
  detachReader(streamId: string, readerId: string): Promise<void>;

  /** Whether any reader is attached now (its `ttlMs` not run out). */
  hasReaders(streamId: string): Promise<boolean>;

  /**
   * Holds new calls of `key` (a hash of the API key, and the model) until `untilMs`; an earlier hold is only ever
   * extended, never shortened.
   */
  holdCalls(key: string, untilMs: number): Promise<void>;

  /** Until when the calls of `key` are held, or `undefined` when they are not (any more). */
  callsHeldUntil(key: string): Promise<number | undefined>;

  /**
   * Resolves once the store can be used; rejects at once, with an error that says what to check, when it cannot (its
   * server is unreachable). Optional; `ClaudeStreamModule` calls it at start-up, so that a wrong address fails the
   * start rather than the first request.
   */
  ready?(): Promise<void>;
}
