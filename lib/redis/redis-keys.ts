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
 */
export class RedisKeys {
  constructor(private readonly prefix: string) {}

  /** The stream's keys, in the order the scripts take them. */
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

  owner(owner: string): string {
    return `${this.prefix}{o:${owner}}:live`;
  }

  backoff(key: string): string {
    return `${this.prefix}{b:${key}}`;
  }

  get stopChannel(): string {
    return `${this.prefix}stop`;
  }
}
