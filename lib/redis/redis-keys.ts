/**
 * The keys `RedisStreamStore` writes, under its `keyPrefix` (`claude-rx:` by default). The part in braces is a Redis
 * Cluster hash tag: one stream's keys share a slot, so that a script can touch them together.
 *
 * | key | type | holds | expires |
 * | --- | --- | --- | --- |
 * | `<p>{<stream id>}:meta` | hash | `owner`, `state` (`live`, `ended`), `first` and `last` positions, `ttl`, `max` | `leaseMs + ttlMs` after the last append or renewal; `ttlMs` after the end |
 * | `<p>{<stream id>}:events` | stream | one entry per event, id `0-<position>`, fields `t` (event name) and `d` (data); an end marker `1-0` | as `meta` |
 * | `<p>{<stream id>}:lease` | string | the producer is alive | `leaseMs` after its last renewal |
 * | `<p>{<stream id>}:stop` | string | a stop was requested | `ttlMs` |
 * | `<p>{<stream id>}:readers` | sorted set | reader id → until when it is attached (epoch ms) | twice the readers' TTL after the last attach |
 * | `<p>{o:<owner>}:live` | sorted set | the owner's live stream ids → their lease's end | with the last of them |
 * | `<p>{b:<backoff key>}` | string | until when the calls of a (key hash, model) are held | at that time |
 * | `<p>stop` | pub/sub channel | the id of each stream asked to stop | — |
 *
 * No API key, header or prompt is ever written: stream ids are random, owners are what the application gives, backoff
 * keys are hashes.
 *
 * @example
 * ```ts
 * import { RedisKeys } from 'claude-rx/redis';
 * const keys = new RedisKeys('claude-rx:').stream(streamId); // inspect a stream: HGETALL keys.meta, XRANGE keys.events - +
 * ```
 */
export class RedisKeys {
  /** @param prefix What every key starts with (`RedisStreamStoreOptions.keyPrefix`). */
  constructor(private readonly prefix: string) {}

  /**
   * The keys of one stream, all in one Cluster slot.
   *
   * @example
   * ```ts
   * new RedisKeys('claude-rx:').stream('q3Vx0d9Jb2kZ8mN4pR7sTw').events; // 'claude-rx:{q3Vx0d9Jb2kZ8mN4pR7sTw}:events'
   * ```
   */
  stream(streamId: string): { meta: string; events: string; lease: string; stop: string; readers: string } {
    const base = `${this.prefix}{${streamId}}`;
    return {
      meta: `${base}:meta`,
      events: `${base}:events`,
      lease: `${base}:lease`,
      stop: `${base}:stop`,
      readers: `${base}:readers`,
    };
  }

  /**
   * The set of an owner's live streams.
   *
   * @example
   * ```ts
   * new RedisKeys('claude-rx:').owner('user-42'); // 'claude-rx:{o:user-42}:live'
   * ```
   */
  owner(owner: string): string {
    return `${this.prefix}{o:${owner}}:live`;
  }

  /**
   * The hold of a backoff key (a hash of the API key, and the model).
   *
   * @example
   * ```ts
   * new RedisKeys('claude-rx:').backoff('a1b2c3d4e5f60718:claude-sonnet-5-5'); // 'claude-rx:{b:a1b2c3d4e5f60718:claude-sonnet-5-5}'
   * ```
   */
  backoff(key: string): string {
    return `${this.prefix}{b:${key}}`;
  }

  /**
   * The pub/sub channel of stop requests (each message a stream id).
   *
   * @example
   * ```ts
   * new RedisKeys('claude-rx:').stopChannel; // 'claude-rx:stop'
   * ```
   */
  get stopChannel(): string {
    return `${this.prefix}stop`;
  }
}
