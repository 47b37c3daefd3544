import { RedisStreamStore } from '../../lib/redis/index.js';
import type { StreamStore } from '../../lib/resumable/stream-store.js';
import { startRedis, type PrivateRedis } from '../support/redis-server.js';
import { describeStreamStoreContract } from '../support/stream-store-contract.js';

// The contract, across two instances: one store produces (create, append, renew, its stop requests), another one,
// on the same Redis, reads (info, read, stop, readers, backoff). So every read goes through Redis, not the producing
// instance's local copy.

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

/** Two stores on one Redis, seen as one: producer-side calls to `producing`, the rest to `reading`. */
function acrossInstances(producing: RedisStreamStore, reading: RedisStreamStore): StreamStore {
  return {
    create: (streamId, options) => producing.create(streamId, options),
    // Written to Redis before the append resolves, as the contract's readers expect to find it at once.
    append: async (streamId, events, final) => {
      await producing.append(streamId, events, final);
      await producing.flush();
    },
    renewLease: (streamId, leaseMs) => producing.renewLease(streamId, leaseMs),
    stopRequests: (streamId) => producing.stopRequests(streamId),
    info: (streamId) => reading.info(streamId),
    read: (streamId, position) => reading.read(streamId, position),
    requestStop: (streamId) => reading.requestStop(streamId),
    attachReader: (streamId, readerId, ttlMs) => reading.attachReader(streamId, readerId, ttlMs),
    detachReader: (streamId, readerId) => reading.detachReader(streamId, readerId),
    hasReaders: (streamId) => reading.hasReaders(streamId),
    holdCalls: (key, untilMs) => reading.holdCalls(key, untilMs),
    callsHeldUntil: (key) => reading.callsHeldUntil(key),
  };
}

describeStreamStoreContract('RedisStreamStore, across two instances', async () => {
  const options = { leaseCheckMs: 100, blockMs: 200, onWarning: () => undefined };
  const producing = new RedisStreamStore(redis.client(), options);
  const reading = new RedisStreamStore(redis.client(), options);
  return {
    store: acrossInstances(producing, reading),
    close: async () => {
      await producing.close();
      await reading.close();
    },
  };
});

describeStreamStoreContract('RedisStreamStore, one instance', async () => {
  const store = new RedisStreamStore(redis.client(), { onWarning: () => undefined });
  return { store, close: () => store.close() };
});
