// Child process: claude-rx's own CPU per event, without the network, the SDK or another process.
//
// The end-to-end figures include everything a consumer of the SDK's stream pays (fetch, SSE decoding, JSON.parse), and
// on a shared machine one process's figure moves by ±15%: a layer that adds 1% cannot be told from one that adds 10%.
// Here the same parsed events go, in one process, alternately through a bare `for await` over an async generator (what
// iterating the SDK's stream costs once the events are parsed) and through `fromStreamEvents` (the pump `claudeStream`
// uses) with the consumer's operator. The difference of the two medians is what claude-rx adds per event.
//
// argv[2] is JSON: { kind: 'text' | 'thinking', consumer, warmup, runs }; sends { ownNsPerEvent, events } to the parent.
import { dist } from './paths.mjs';

const { kind, consumer, warmup, runs } = JSON.parse(process.argv[2]);
const rx = await import(dist('lib/index.js'));
const testing = await import(dist('lib/testing/index.js'));
const nest = consumer === 'toSse' ? await import(dist('nest-module/index.js')) : undefined;

const DELTAS = 20_000;
const piece = 'abcd';
const blocks =
  kind === 'text'
    ? [testing.text(piece.repeat(DELTAS), { chunkSize: 4 })]
    : [
        testing.thinking(piece.repeat(DELTAS / 2), 'sig', { chunkSize: 4 }),
        testing.text(piece.repeat(DELTAS / 2), { chunkSize: 4 }),
      ];
// Serialized once, parsed afresh before every run, as the SDK hands each run new objects.
const wire = testing.messageEvents(blocks).map((event) => JSON.stringify(event));

const operators = {
  claudeStream: () => (source) => source,
  textOnly: () => rx.textOnly(),
  accumulateMessage: () => rx.accumulateMessage(),
  finalMessage: () => rx.finalMessage(),
  toSse: () => nest.toSse({ heartbeatMs: false }),
};
if (!operators[consumer]) throw new Error(`unknown consumer ${consumer}`);

async function* iterate(events) {
  for (const event of events) yield event;
}

/** Iterating with nothing else: a function of its own, as the pump is, so that the JIT treats the two alike. */
async function iterateBare(events) {
  let n = 0;
  for await (const event of iterate(events)) if (event) n++;
  return n;
}

/** Through the pump and the operator. */
function throughRx(events) {
  let n = 0;
  return new Promise((resolve, reject) =>
    rx
      .fromStreamEvents(iterate(events))
      .pipe(operators[consumer]())
      .subscribe({ next: () => n++, error: reject, complete: () => resolve(n) }),
  );
}

/** CPU ms of one pass over freshly parsed events: bare, or through the pump and the operator. */
async function pass(viaRx) {
  const events = wire.map((line) => JSON.parse(line));
  const cpu0 = process.cpuUsage();
  await (viaRx ? throughRx(events) : iterateBare(events));
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000;
}

const bareMs = [];
const throughMs = [];
for (let i = 0; i < warmup + runs; i++) {
  // Alternated, and in turn first, so that neither the machine meanwhile nor the garbage the pass before left weighs
  // on one side only.
  const rxFirst = i % 2 === 1;
  const a = rxFirst ? await pass(true) : await pass(false);
  const b = rxFirst ? await pass(false) : await pass(true);
  if (i >= warmup) {
    bareMs.push(rxFirst ? b : a);
    throughMs.push(rxFirst ? a : b);
  }
}
const median = (values) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)];
const ownMs = median(throughMs) - median(bareMs);
await new Promise((resolve, reject) =>
  process.send({ ownNsPerEvent: (ownMs * 1e6) / wire.length, events: wire.length }, (error) =>
    error ? reject(error) : resolve(),
  ),
);
