import { randomUUID } from 'node:crypto';
import { Observable, type Subscription } from 'rxjs';
import { describeFailure } from '../sse/describe-failure.js';
import type { SseErrorData, SseFrame, SseMessage, SseStoppedData } from '../sse/sse-frame.js';
import { streamCounters } from '../telemetry/stream-counters.js';
import { MemoryStreamStore } from './memory-stream-store.js';
import {
  StreamEndedError,
  StreamGapError,
  StreamIdError,
  StreamLimitError,
  StreamLostError,
  StreamNotFoundError,
} from './stream-errors.js';
import { eventIdOf, newStreamId, parseEventId, streamIdOf } from './stream-ids.js';
import { StreamProducer } from './stream-producer.js';
import type { StreamStore } from './stream-store.js';

/**
 * Options of `ResumableStreams` (and `resume` of `ClaudeStreamModule.forRoot`).
 *
 * @example
 * ```ts
 * import { MemoryStreamStore, ResumableStreams, type ResumableStreamsOptions } from 'claude-rx';
 *
 * const options: ResumableStreamsOptions = { store: new MemoryStreamStore(), graceMs: 30_000, ttlMs: 600_000 };
 * const streams = new ResumableStreams(options);
 * ```
 */
export interface ResumableStreamsOptions {
  /** Where the streams' events, stop requests and reader presence are kept. @defaultValue a new `MemoryStreamStore` */
  readonly store?: StreamStore;
  /**
   * How long a stream goes on with no reader attached (a closed tab, a dropped connection) before its upstream request
   * is aborted. It is what a reconnect has to come back in; it is also what a closed tab keeps paying for.
   * @defaultValue 15000
   */
  readonly graceMs?: number;
  /** How long an ended stream can still be resumed (its last events read again). @defaultValue 300000 (5 minutes) */
  readonly ttlMs?: number;
  /**
   * The most events one stream keeps; beyond it the oldest are dropped, and a resume from before them fails with
   * `StreamGapError` (404) rather than leave a gap. @defaultValue 50000
   */
  readonly maxEvents?: number;
  /** The most live streams one owner may have; one more fails with `StreamLimitError` (429). @defaultValue 10 */
  readonly maxStreamsPerOwner?: number;
  /**
   * How long a producer is taken for alive without renewing its lease (it renews three times per lease): after it,
   * readers on other instances end with an `error` event. @defaultValue 6000
   */
  readonly leaseMs?: number;
}

/**
 * Who asks: the stream's owner (e.g. the signed-in user's id). A stream started with an owner is only read or stopped
 * with the same owner; one started without is read or stopped by whoever has its id.
 *
 * @example
 * ```ts
 * const events$ = await streams.resume(lastEventId, { owner: user.id });
 * ```
 */
export interface StreamOwnerOptions {
  readonly owner?: string | undefined;
}

/**
 * A stream started by `ResumableStreams.create()`: its id, its producer (`produce`), and its events for a reader.
 *
 * @example
 * ```ts
 * const stream = await streams.create({ owner: user.id });
 * stream.produce(claudeStream(client, params).pipe(toSseFrames()));
 * stream.read().subscribe((message) => response.write(encodeSse(message)));
 * ```
 */
export interface ResumableStream {
  /** The stream's id: unguessable; send it in headers or bodies, never in a URL (URLs get logged). */
  readonly id: string;
  /**
   * Starts the stream's producer: subscribes to `frames` at once and stores each. The stream then runs apart from its
   * readers: it ends with the frames' own end, a `stop()`, or `graceMs` without a reader. Called once.
   * `options.onStopped` is told why a stream was stopped (`stop`, `no_reader`), before `frames` is unsubscribed.
   */
  produce(frames: Observable<SseFrame>, options?: ProduceOptions): void;
  /**
   * The stream's events after `position` (0: all), each with its id `<stream id>.<position>`, then live ones; it
   * completes after the final event. The reader counts as attached while subscribed.
   */
  read(position?: number): Observable<SseMessage>;
  /** Gives the stream up before `produce` (the setup failed): it ends with no event. */
  discard(): Promise<void>;
}

/**
 * Options of `ResumableStream.produce`.
 *
 * @example
 * ```ts
 * stream.produce(frames$, { onStopped: (reason) => log.info(`stream ${stream.id} stopped: ${reason}`) });
 * ```
 */
export interface ProduceOptions {
  /** Told why the stream was stopped (`stop()`, or no reader for `graceMs`), before its frames are unsubscribed. */
  readonly onStopped?: (reason: SseStoppedData['reason']) => void;
}

const DEFAULTS = {
  graceMs: 15_000,
  ttlMs: 300_000,
  maxEvents: 50_000,
  maxStreamsPerOwner: 10,
  leaseMs: 6_000,
} as const;

/** How long a reader's presence lasts in the store without renewal; it is renewed three times as often. */
const READER_TTL_MS = 10_000;

function positive(name: string, value: unknown, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(
      `ResumableStreams: ${name} must be a positive ${integer ? 'integer' : 'number of milliseconds'}, got ${JSON.stringify(value) ?? typeof value}`,
    );
  }
  return value;
}

function checkOwner(owner: unknown): string | undefined {
  if (owner === undefined) return undefined;
  if (typeof owner !== 'string' || owner === '') {
    throw new TypeError('ResumableStreams: owner must be a non-empty string (e.g. a user id)');
  }
  return owner;
}

/**
 * Streams that outlive their connection: each runs apart from its first reader, every event stored with its position,
 * so that a client that lost its connection resumes by `Last-Event-ID` and gets every event once, in order, while the
 * upstream request goes on. It is aborted once no reader has been attached for `graceMs`, or by `stop()` from any
 * request; an ended stream can be read again for `ttlMs`.
 *
 * Framework-free (a plain `node:http` handler will do, see `serveSse`); `ClaudeStreamModule`'s `resume` option runs
 * the same machinery behind `sse()`. With a `RedisStreamStore`, any instance resumes or stops any stream.
 *
 * @example
 * ```ts
 * import { claudeStream, encodeSse, ResumableStreams, toSseFrames } from 'claude-rx';
 *
 * const streams = new ResumableStreams({ graceMs: 15_000 });
 *
 * // POST /chat: a new stream
 * const stream = await streams.start(claudeStream(client, params).pipe(toSseFrames()), { owner: user.id });
 * stream.read().subscribe((message) => res.write(encodeSse(message)));
 *
 * // GET /chat with Last-Event-ID: the rest of it
 * (await streams.resume(req.headers['last-event-id'], { owner: user.id })).subscribe((m) => res.write(encodeSse(m)));
 * ```
 */
export class ResumableStreams {
  /** The store the streams are kept in. */
  readonly store: StreamStore;
  private readonly graceMs: number;
  private readonly ttlMs: number;
  private readonly maxEvents: number;
  private readonly maxStreamsPerOwner: number;
  private readonly leaseMs: number;
  /** The producers running in this process, by stream id. */
  private readonly producers = new Map<string, StreamProducer>();

  /** @throws TypeError for a bad option, naming it. */
  constructor(options: ResumableStreamsOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('ResumableStreams: options must be an object');
    const store = options.store ?? new MemoryStreamStore();
    if (typeof store !== 'object' || store === null || typeof store.read !== 'function') {
      throw new TypeError('ResumableStreams: store must be a StreamStore (MemoryStreamStore, RedisStreamStore)');
    }
    this.store = store;
    this.graceMs = positive('graceMs', options.graceMs, DEFAULTS.graceMs);
    this.ttlMs = positive('ttlMs', options.ttlMs, DEFAULTS.ttlMs);
    this.maxEvents = positive('maxEvents', options.maxEvents, DEFAULTS.maxEvents, true);
    this.maxStreamsPerOwner = positive(
      'maxStreamsPerOwner',
      options.maxStreamsPerOwner,
      DEFAULTS.maxStreamsPerOwner,
      true,
    );
    this.leaseMs = positive('leaseMs', options.leaseMs, DEFAULTS.leaseMs);
  }

  /**
   * Creates a stream (nothing is sent anywhere yet): call `produce` on it with its frames, or `discard` it.
   *
   * @throws `StreamLimitError` when the owner has `maxStreamsPerOwner` live streams already.
   */
  async create(options: StreamOwnerOptions = {}): Promise<ResumableStream> {
    const owner = checkOwner(options.owner);
    const streamId = newStreamId();
    const created = await this.store.create(streamId, {
      owner,
      leaseMs: this.leaseMs,
      ttlMs: this.ttlMs,
      maxEvents: this.maxEvents,
      maxOpenPerOwner: owner === undefined ? undefined : this.maxStreamsPerOwner,
    });
    if (!created) throw new StreamLimitError(this.maxStreamsPerOwner);
    const producer = new StreamProducer(
      streamId,
      this.store,
      { graceMs: this.graceMs, leaseMs: this.leaseMs, presenceCheckMs: Math.min(this.graceMs, READER_TTL_MS / 2) },
      () => this.producers.delete(streamId),
    );
    this.producers.set(streamId, producer);
    let produced = false;
    return {
      id: streamId,
      produce: (frames, produceOptions) => {
        if (produced) throw new Error('ResumableStream.produce: the stream has a producer already');
        produced = true;
        producer.run(frames, produceOptions?.onStopped);
      },
      read: (position = 0) => this.reader(streamId, position),
      discard: async () => {
        if (produced) return;
        produced = true;
        this.producers.delete(streamId);
        await this.store.append(streamId, [], true);
      },
    };
  }

  /**
   * `create` then `produce`: starts a stream of `frames` at once.
   *
   * @throws `StreamLimitError` when the owner has `maxStreamsPerOwner` live streams already (`frames` is then not
   *   subscribed: nothing is sent upstream).
   */
  async start(frames: Observable<SseFrame>, options: StreamOwnerOptions = {}): Promise<ResumableStream> {
    const stream = await this.create(options);
    stream.produce(frames);
    return stream;
  }

  /**
   * The events after `lastEventId` (what an `EventSource` sends as `Last-Event-ID` when it reconnects), then the live
   * ones, from any instance sharing the store.
   *
   * @throws `StreamIdError` (400) when it is no event id; `StreamNotFoundError` (404) for an unknown, expired or
   *   another owner's stream; `StreamEndedError` (204) when it is the id of the final event; `StreamGapError` (404)
   *   when events after it were dropped.
   */
  async resume(lastEventId: string, options: StreamOwnerOptions = {}): Promise<Observable<SseMessage>> {
    const owner = checkOwner(options.owner);
    const at = parseEventId(lastEventId);
    if (!at) throw new StreamIdError();
    const info = await this.store.info(at.streamId);
    if (!info || info.owner !== owner) throw new StreamNotFoundError();
    // A lost stream's final event is the `error` event its readers were given, one past its last stored position.
    const finalPosition = info.state === 'lost' ? info.lastPosition + 1 : info.lastPosition;
    // Past the end of an ended stream: forged. A live one may be ahead in the producer than in a store that writes
    // behind (Redis, by `flushMs`): its reader waits for what comes.
    if (info.state !== 'live' && at.position > finalPosition) throw new StreamNotFoundError();
    if (info.state !== 'live' && at.position === finalPosition) throw new StreamEndedError();
    if (at.position < info.firstPosition - 1) throw new StreamGapError(at.position, info.firstPosition);
    streamCounters()?.resumed.add(1);
    return this.reader(at.streamId, at.position);
  }

  /**
   * Stops a stream wherever it runs: its upstream request is aborted and its readers' streams end with a `stopped`
   * event.
   *
   * @param id The stream's id, or the id of any of its events.
   * @returns `true` when it was live and is stopping; `false` when it is unknown, expired, another owner's, or over.
   * @throws `StreamIdError` when `id` is neither a stream id nor an event id.
   */
  async stop(id: string, options: StreamOwnerOptions = {}): Promise<boolean> {
    const owner = checkOwner(options.owner);
    const streamId = streamIdOf(id);
    if (streamId === undefined) throw new StreamIdError();
    const info = await this.store.info(streamId);
    if (!info || info.owner !== owner || info.state !== 'live') return false;
    return this.store.requestStop(streamId);
  }

  /** How many streams are produced in this process now. */
  get producing(): number {
    return this.producers.size;
  }

  /** A reader of the stream after `position`; attached (to the store, and to a local producer) while subscribed. */
  private reader(streamId: string, position: number): Observable<SseMessage> {
    return new Observable<SseMessage>((subscriber) => {
      const readerId = randomUUID();
      const producer = this.producers.get(streamId);
      producer?.readerAttached();
      const attach = () => this.store.attachReader(streamId, readerId, READER_TTL_MS).catch(() => undefined);
      void attach();
      const presence = setInterval(() => void attach(), READER_TTL_MS / 3);
      presence.unref?.();
      let lastPosition = position;
      const events: Subscription = this.store.read(streamId, position).subscribe({
        next(event) {
          lastPosition = event.position;
          subscriber.next({ id: eventIdOf(streamId, event.position), type: event.type, data: event.data });
        },
        error(error: unknown) {
          // Every failure ends the reader's stream with an `error` event (`stream_lost`), never a silent end, nor
          // the store's own error (which may name hosts). Its id: when the producer died, one past the last stored
          // (a reconnect with it is told 204: there is nothing more); when reading failed (the store is unreachable,
          // the reader fell behind what is kept), the last one handed (a reconnect later goes on from there).
          const lost = error instanceof StreamLostError;
          const { type, message, retryable } = describeFailure(new StreamLostError());
          const data: SseErrorData = { type, message, retryable };
          const id = eventIdOf(streamId, lost ? lastPosition + 1 : lastPosition);
          subscriber.next({ id, type: 'error', data: JSON.stringify(data) });
          subscriber.complete();
        },
        complete: () => subscriber.complete(),
      });
      return () => {
        events.unsubscribe();
        clearInterval(presence);
        this.store.detachReader(streamId, readerId).catch(() => undefined);
        producer?.readerDetached();
      };
    });
  }
}
