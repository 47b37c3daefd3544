// Child process of the redis suite, in one of three roles, driven run by run by the parent over IPC:
//
//   producer, store redis    streams on a `RedisStreamStore` (its ioredis client named `producer`: its duplicates
//                            too), one local reader (`stream.read()`, served from the store's local copy)
//   producer, store memory   the same on a `MemoryStreamStore`: the resume suite's *resumable* variant, the reference
//                            for CPU
//   reader                   another instance: its own `RedisStreamStore` and ioredis client (named `reader`) and its
//                            own `ResumableStreams`, reading each stream with `streams.resume('<id>.0')`
//
// Every stream is `claudeStream(client, params).pipe(toSseFrames())` from the fake server, through `streams.create()`
// then `produce()`; every reader writes each message, encoded with `encodeSse`, into a string sink (as the resume
// suite does) and notes when it got it (`performance.timeOrigin + performance.now()`: one clock across processes).
//
// argv[2] is JSON: { role, store, url, port }. Requests (each answered with a message of the same type):
//   producer: { type: 'create', model } → { streamId };  { type: 'go' } → { cpuMs, wallMs, events, times }
//             (the stream is produced now; answered once its final event is stored: in Redis, for the redis store)
//   reader:   { type: 'follow', streamId } → {} once following; later, unasked, { type: 'read', events, times }
// `times[p]` is when the reader got the event at position p. { type: 'close' } closes the store and exits.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientFor } from './consumers.mjs';
import { dist } from './paths.mjs';

const send = (message) =>
  new Promise((resolve, reject) => process.send(message, (error) => (error ? reject(error) : resolve())));
const { role, store: storeKind, url, port } = JSON.parse(process.argv[2]);
const rx = await import(dist('lib/index.js'));
const now = () => performance.timeOrigin + performance.now();

/**
 * The streams' stored events expire this long after their end: long enough for the reader on the other instance to
 * finish reading from Redis, short enough that the runs' streams do not pile up in either process.
 */
const RUN_TTL_MS = 5_000;
/**
 * How long the reader waits after subscribing before it says it follows: its `info` then its blocking `XREAD` are on
 * their way to Redis by then, so that the first events are read live, not caught up on.
 */
const FOLLOW_SETTLE_MS = 50;

let redis;
let store;
if (storeKind === 'redis') {
  const { Redis } = await import('ioredis');
  const { RedisStreamStore } = await import(dist('lib/redis/index.js'));
  redis = new Redis({ port, host: '127.0.0.1', connectionName: role });
  store = new RedisStreamStore(redis, { onWarning: (message) => console.error(`[bench] redis ${role}: ${message}`) });
  await store.ready();
} else {
  store = new rx.MemoryStreamStore();
}

/** Tells when a stream's final append resolves (in Redis, for the redis store): the producer's work is done. */
const endings = new Map();
const append = store.append.bind(store);
store.append = (streamId, events, final) => {
  const appended = append(streamId, events, final);
  if (final) {
    const onEnd = endings.get(streamId);
    endings.delete(streamId);
    if (onEnd) void appended.then(onEnd, onEnd);
  }
  return appended;
};
const whenEnded = (streamId) => new Promise((resolve) => endings.set(streamId, resolve));

const streams = new rx.ResumableStreams({ store, ttlMs: RUN_TTL_MS });

/** A reader of `messages`: writes each into an SSE sink and notes when it came, by position; resolves at the end. */
function readAll(messages) {
  const times = [0];
  let text = '';
  let events = 0;
  let failure;
  const done = new Promise((resolve, reject) => {
    messages.subscribe({
      next(message) {
        times[Number(message.id.slice(message.id.lastIndexOf('.') + 1))] = now();
        text += rx.encodeSse(message);
        if (text.length >= 65_536) text = '';
        events++;
        // A failed read ends with an `error` event (the stream's own events never are one here).
        if (message.type === 'error') failure ??= message.data;
      },
      error: reject,
      complete: () => resolve({ events, times, failure }),
    });
  });
  return done;
}

let current;
const handlers = {
  // Producer.
  async create({ model }) {
    const stream = await streams.create();
    const params = { model, max_tokens: 64_000, messages: [{ role: 'user', content: 'Go' }] };
    current = { stream, params, read: readAll(stream.read()) };
    return { streamId: stream.id };
  },
  async go() {
    const { stream, params, read } = current;
    current = undefined;
    const ended = whenEnded(stream.id);
    // The garbage of the runs before is not this one's (--expose-gc).
    globalThis.gc?.();
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    stream.produce(rx.claudeStream(client, params).pipe(rx.toSseFrames()));
    const [result] = await Promise.all([read, ended]);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    if (result.failure) throw new Error(`the local reader got an error event: ${result.failure}`);
    return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, events: result.events, times: result.times };
  },
  // Reader on the other instance.
  async follow({ streamId }) {
    const messages = await streams.resume(`${streamId}.0`);
    readAll(messages).then(
      (result) => send({ type: 'read', ...result }),
      (error) => send({ type: 'read', failure: String(error) }),
    );
    await sleep(FOLLOW_SETTLE_MS);
    return {};
  },
};

const client = role === 'producer' ? clientFor(url) : undefined;

process.on('message', (message) => {
  if (message?.type === 'close') {
    void Promise.resolve(store.close?.())
      .catch(() => undefined)
      .finally(() => {
        redis?.disconnect();
        process.exit(0);
      });
    return;
  }
  const handler = handlers[message?.type];
  if (!handler) return;
  handler(message).then(
    (answer) => send({ type: message.type, ...answer }),
    (error) => {
      console.error(`[bench] redis-run ${role}: ${error?.stack ?? error}`);
      process.exit(1);
    },
  );
});
process.on('disconnect', () => process.exit(0));
await send({ type: 'ready' });
