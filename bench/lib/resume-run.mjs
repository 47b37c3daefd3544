// Child process: one variant of the resume suite, one model: `warmup` runs, then `runs` measured ones, each reported
// to the parent; then, with --expose-gc, the heap one more stream leaves behind once it has ended.
//
// Every variant sends one streaming request to the fake server and writes each event, encoded with `encodeSse`, into
// a string sink (what writing to a response costs claude-rx's side, without a socket):
//   plain      claudeStream(client, params).pipe(toSseFrames()), each frame numbered 1, 2, 3, ...
//   resumable  the same frames through streams.start(...) (a MemoryStreamStore), read by one reader (stream.read())
//   resume     as resumable, but the reader leaves at the halfway event and comes back with streams.resume(lastId)
//              once the stream has ended: the second half is replayed from the store in one go
//
// argv[2] is JSON: { url, variant, model, warmup, runs }. Sends { type: 'run', cpuMs, wallMs, events } per measured
// run, then { type: 'memory', retainedBytes, storedEvents, events }.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientFor } from './consumers.mjs';
import { dist } from './paths.mjs';

const send = (message) =>
  new Promise((resolve, reject) => process.send(message, (error) => (error ? reject(error) : resolve())));
const { url, variant, model, warmup, runs } = JSON.parse(process.argv[2]);
const rx = await import(dist('lib/index.js'));
const client = clientFor(url);
const params = { model, max_tokens: 64_000, messages: [{ role: 'user', content: 'Go' }] };

/**
 * The measured runs' streams expire this long after their end, so that the heap does not grow with every run (a
 * stream of 20,000 events holds some megabytes): at most the previous run's is still held when the next one starts.
 * The resume variant resumes within the microtasks that follow the end, before any timer can fire.
 */
const RUN_TTL_MS = 50;

/** The store, as `ResumableStreams` uses it, telling when a stream's final event is stored (one check per append). */
class WatchedStore extends rx.MemoryStreamStore {
  ended = new Map();

  append(streamId, events, final) {
    const appended = super.append(streamId, events, final);
    if (final) {
      const onEnd = this.ended.get(streamId);
      this.ended.delete(streamId);
      if (onEnd) void appended.then(onEnd, onEnd);
    }
    return appended;
  }

  /** Resolves once the stream's final event is stored. */
  whenEnded(streamId) {
    return new Promise((resolve) => this.ended.set(streamId, resolve));
  }
}

/** Writes each message as SSE text into a sink that lets go of every 64 KB, as a socket would; counts them. */
function sink() {
  let text = '';
  let bytes = 0;
  let events = 0;
  return {
    write(message) {
      text += rx.encodeSse(message);
      events++;
      if (text.length >= 65_536) {
        bytes += text.length;
        text = '';
      }
    },
    get events() {
      return events;
    },
    get bytes() {
      return bytes + text.length;
    },
  };
}

/** Subscribes, writes every message to `out`; `stopAt(message)` true ends the subscription after that message. */
const drain = (messages, out, stopAt = () => false) =>
  new Promise((resolve, reject) => {
    let subscription;
    let stopped;
    subscription = messages.subscribe({
      next(message) {
        out.write(message);
        if (stopped === undefined && stopAt(message)) {
          stopped = message;
          subscription?.unsubscribe();
          resolve(message);
        }
      },
      error: reject,
      complete: () => resolve(undefined),
    });
    if (stopped) subscription.unsubscribe();
  });

const frames = () => rx.claudeStream(client, params).pipe(rx.toSseFrames());

/** One stream of the variant, its events written to `out`; resolves when the reader has them all. */
const variants = {
  plain: async (_streams, out) => {
    let id = 0;
    const numbered = frames();
    await new Promise((resolve, reject) =>
      numbered.subscribe({
        next: (frame) => out.write({ id: String(++id), type: frame.type, data: frame.data }),
        error: reject,
        complete: resolve,
      }),
    );
  },
  resumable: async (streams, out) => {
    const stream = await streams.start(frames());
    await drain(stream.read(), out);
    return stream.id;
  },
  resume: async (streams, out, store, expected) => {
    // The first run, which learns how many events there are, reads them all.
    if (expected === 0) return variants.resumable(streams, out);
    const stream = await streams.start(frames());
    const ended = store.whenEnded(stream.id);
    const half = Math.floor(expected / 2);
    let seen = 0;
    const last = await drain(stream.read(), out, () => ++seen === half);
    if (!last) throw new Error(`resume: the stream ended before its event ${half}`);
    await ended;
    await drain(await streams.resume(last.id), out);
    return stream.id;
  },
};
const play = variants[variant];
if (!play) throw new Error(`unknown variant ${variant}`);
if (variant === 'resume' && warmup < 1) throw new Error('resume: needs a warm-up run (it counts the events)');

const runStore = new WatchedStore();
const runStreams = new rx.ResumableStreams({ store: runStore, ttlMs: RUN_TTL_MS });
/** Events per stream, learnt from the first (warm-up) run: the resume variant leaves at half of them. */
let expected = 0;

for (let i = 0; i < warmup + runs; i++) {
  const out = sink();
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  await play(runStreams, out, runStore, expected);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  if (expected === 0) expected = out.events;
  if (out.events !== expected) throw new Error(`${variant}: ${out.events} events, ${expected} the first time`);
  if (i >= warmup) await send({ type: 'run', cpuMs: (cpu.user + cpu.system) / 1000, wallMs, events: out.events });
}

// The heap one more stream leaves behind: after full GCs, with the stream ended and kept (the default ttl, minutes),
// minus the same before it, once the measured runs' streams have expired.
if (typeof globalThis.gc === 'function') {
  const heapAfterGc = () => {
    globalThis.gc();
    globalThis.gc();
    return process.memoryUsage().heapUsed;
  };
  const store = new WatchedStore();
  const streams = new rx.ResumableStreams({ store });
  await sleep(RUN_TTL_MS * 2.5);
  const before = heapAfterGc();
  const streamId = await play(streams, sink(), store, expected);
  await sleep(10);
  const after = heapAfterGc();
  const info = streamId === undefined ? undefined : await store.info(streamId);
  if (streamId !== undefined && info?.state !== 'ended') throw new Error(`${variant}: the stream is ${info?.state}`);
  await send({
    type: 'memory',
    retainedBytes: after - before,
    storedEvents: info?.lastPosition ?? 0,
    events: expected,
  });
}
// Idle keep-alive sockets would hold the process open for seconds.
process.exit(0);
