import { Redis } from 'ioredis';
import { demo, main, startInstance } from '../../samples/redis-instances.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';
import { startRedis, type PrivateRedis } from '../support/redis-server.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

const ANSWER =
  'Rivers carry water from the hills to the sea, shaping valleys as they go. They feed the land, the towns and the creatures along their banks.';

describe('samples/redis-instances', () => {
  it('starts a stream on A, drops it, and resumes it on B: the whole answer once, from one request', async () => {
    demo(fake.server);
    const lines: string[] = [];

    await main(fake.client, { redisUrl: redis.url, write: (line) => lines.push(line) });

    expect(lines[0]).toMatch(/^A: 6 events, then the connection dropped/);
    expect(lines[1]).toMatch(/^B: \d+ more events, ending with "done"/);
    expect(lines[2]).toBe(`The whole answer: ${ANSWER}`);
    expect(fake.server.requests).toHaveLength(1);
    const [request] = fake.server.requests;
    await request!.closed;
    expect(request!.completed).toBe(true);
    expect(request!.closedByClient).toBe(false);
  }, 20_000);

  it('leaves every key it wrote with an expiry, and closes its connections', async () => {
    demo(fake.server);
    await main(fake.client, { redisUrl: redis.url, write: () => undefined });
    const inspect = new Redis(redis.url);
    try {
      const keys = await inspect.keys('claude-rx:*');
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(await inspect.pttl(key)).toBeGreaterThan(0);
    } finally {
      inspect.disconnect();
    }
  }, 20_000);

  it('serves one instance for a proxy to balance', async () => {
    const instance = await startInstance({ client: fake.client, redisUrl: redis.url });
    try {
      const response = await fetch(`${instance.url}/chat/stream?q=hi`);
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/event: done/);
    } finally {
      await instance.close();
    }
  });
});
