export { RedisStreamStore } from './redis-stream-store.js';
export type { RedisStreamStoreOptions } from './redis-stream-store.js';
export { RedisKeys } from './redis-keys.js';
