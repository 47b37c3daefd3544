import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { ClaudeStreamModule } from 'claude-rx/nest';
import { lastValueFrom, Subject, toArray } from 'rxjs';
import { ResumableStreams, type SseFrame } from 'claude-rx';
import { RedisKeys, RedisStreamStore } from 'claude-rx/redis';
import { sleep } from '../support/harness.js';
import { startRedis, type PrivateRedis } from '../support/redis-server.js';

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

describe('RedisStreamStore options', () => {
  it.each([
    [{}, undefined, /give it an ioredis client/],
    [null, undefined, /give it an ioredis client/],
    ['client', { flushMs: 0 }, /flushMs must be a positive number/],
    ['client', { blockMs: -1 }, /blockMs must be a positive number/],
    ['client', { commandTimeoutMs: Number.NaN }, /commandTimeoutMs must be a positive number/],
    ['client', { keyPrefix: 5 }, /keyPrefix must be a string/],
  ])('refuses a bad client or option with a TypeError that names it', (client, options, message) => {
    const given = client === 'client' ? redis.client() : client;
    expect(() => new RedisStreamStore(given as never, options as never)).toThrow(TypeError);
    expect(() => new RedisStreamStore(given as never, options as never)).toThrow(message);
  });
});

describe('ready()', () => {
  it('resolves when Redis answers', async () => {
    const store = new RedisStreamStore(redis.client());
    await expect(store.ready()).resolves.toBeUndefined();
    await store.close();
  });

  it('fails fast, saying what to check, when Redis cannot be reached (no hang, no password)', async () => {
    const unreachable = new Redis({ port: 1, host: '127.0.0.1', password: 'hunter2-secret', lazyConnect: true });
    unreachable.on('error', () => undefined);
    const store = new RedisStreamStore(unreachable, { commandTimeoutMs: 300, onWarning: () => undefined });
    const started = Date.now();
    const error = await store.ready().then(
      () => undefined,
      (reason: unknown) => reason as Error,
    );
    unreachable.disconnect();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error?.message).toMatch(/Redis did not answer PING within 300 ms/);
    expect(error?.message).toMatch(/host, port and password/);
    expect(error?.message).not.toContain('hunter2');
  });
});

describe('a NestJS app whose Redis cannot be reached', () => {
  it('fails to start, at once, with the store saying what to check', async () => {
    const unreachable = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    const store = new RedisStreamStore(unreachable, { commandTimeoutMs: 300, onWarning: () => undefined });
    const moduleRef = await Test.createTestingModule({
      imports: [ClaudeStreamModule.forRoot({ apiKey: 'sk-ant-test', store, resume: true })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    const started = Date.now();
    await expect(app.init()).rejects.toThrow(/Redis did not answer PING within 300 ms.*check that it runs/);
    expect(Date.now() - started).toBeLessThan(2_000);
    await store.close();
    unreachable.disconnect();
  });
});

describe('what is written to Redis', () => {
  it('uses the documented keys, hash-tagged by stream, each with an expiry', async () => {
    const client = redis.client();
    const store = new RedisStreamStore(client, { keyPrefix: 'test-keys:' });
    const streams = new ResumableStreams({ store, ttlMs: 60_000 });
    const source = new Subject<SseFrame>();
    const stream = await streams.start(source, { owner: 'ada' });
    const reading = lastValueFrom(stream.read().pipe(toArray()));
    source.next({ type: 'content_block_delta', data: '{"n":1}' });
    await store.attachReader(stream.id, 'reader-1', 5_000);
    await store.holdCalls('abcdef0123456789:claude-x', Date.now() + 5_000);
    await store.flush();
    const keys = new RedisKeys('test-keys:');
    const names = keys.stream(stream.id);
    const live = (await client.keys('test-keys:*')).sort();
    expect(live).toEqual(
      [
        names.meta,
        names.events,
        names.lease,
        names.readers,
        keys.owner('ada'),
        keys.backoff('abcdef0123456789:claude-x'),
      ].sort(),
    );
    expect(names.meta).toBe(`test-keys:{${stream.id}}:meta`);
    for (const key of live) expect(await client.pttl(key)).toBeGreaterThan(0);

    source.next({ type: 'done', data: '{}' });
    source.complete();
    expect((await reading).map((message) => message.type)).toEqual(['content_block_delta', 'done']);
    await sleep(10);
    expect(await client.hget(names.meta, 'state')).toBe('ended');
    expect(await client.exists(names.lease)).toBe(0);
    expect(await client.zscore(keys.owner('ada'), stream.id)).toBeNull();
    const entries = await client.xrange(names.events, '-', '+');
    expect(entries.map(([id]) => id)).toEqual(['0-1', '0-2', '1-0']);
    for (const key of await client.keys('test-keys:*')) expect(await client.pttl(key)).toBeGreaterThan(0);
    await store.close();
  });

  it('writes a burst in bounded writes (at most 500 events each), all of it, in order', async () => {
    const client = redis.client();
    const store = new RedisStreamStore(client, { keyPrefix: 'test-burst:', onWarning: () => undefined });
    const streams = new ResumableStreams({ store });
    const scriptsRun = async () => Number(/cmdstat_eval:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    const source = new Subject<SseFrame>();
    const stream = await streams.start(source);
    const before = await scriptsRun();
    for (let n = 1; n <= 2_000; n++) source.next({ type: 'content_block_delta', data: `{"n":${n}}` });
    source.complete();
    await lastValueFrom(stream.read().pipe(toArray()));
    await store.flush();
    expect((await scriptsRun()) - before).toBeGreaterThanOrEqual(4);
    const entries = await client.xrange(new RedisKeys('test-burst:').stream(stream.id).events, '-', '+');
    expect(entries.map(([id]) => id)).toEqual([...Array.from({ length: 2_000 }, (_, i) => `0-${i + 1}`), '1-0']);
    await store.close();
  });

  it('writes the events of a fast stream in far fewer round trips than events', async () => {
    const client = redis.client();
    const store = new RedisStreamStore(client, { keyPrefix: 'test-trips:', flushMs: 50 });
    const streams = new ResumableStreams({ store });
    // Scripts run by the server so far (each store write is one), from its own statistics.
    const scriptsRun = async () => Number(/cmdstat_eval:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    const before = await scriptsRun();
    const source = new Subject<SseFrame>();
    const stream = await streams.start(source);
    const reading = lastValueFrom(stream.read().pipe(toArray()));
    for (let n = 1; n <= 200; n++) {
      source.next({ type: 'content_block_delta', data: `{"n":${n}}` });
      if (n % 20 === 0) await sleep(10);
    }
    source.complete();
    expect(await reading).toHaveLength(200);
    await store.flush();
    const writes = (await scriptsRun()) - before;
    // The create, a write per flush (about one per 50 ms over some 150 ms) and the end: far fewer than 200.
    expect(writes).toBeGreaterThan(1);
    expect(writes).toBeLessThan(20);
    expect(await client.hget(new RedisKeys('test-trips:').stream(stream.id).meta, 'last')).toBe('200');
    await store.close();
  });
});
