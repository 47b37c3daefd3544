// Child process: one consumer, one model: `warmup` runs, then `runs` measured ones, each reported to the parent.
//
// One process per consumer and round, so that each layer is measured with only its own code hot in the JIT, as in
// an application that uses one of them: interleaved in one process, the layers share the SDK's functions, and
// which one warmed them first changes the others' figures by up to ±30%.
//
// argv[2] is JSON: { url, consumer, model, warmup, runs, gc, load }. `gc`: a full GC (`global.gc()`, the process is
// started with --expose-gc) before each measured run, outside what is measured; `load`: claude-rx's `esm` build
// through `import()`, or its `cjs` build through `require()`.
import { performance } from 'node:perf_hooks';
import { clientFor, consumers, loadThrough } from './consumers.mjs';

const send = (message) =>
  new Promise((resolve, reject) => process.send(message, (error) => (error ? reject(error) : resolve())));
const { url, consumer, model, warmup, runs, gc = false, load = 'esm' } = JSON.parse(process.argv[2]);
loadThrough(load);
const ctx = { url, client: clientFor(url) };
const run = consumers[consumer];
if (!run) throw new Error(`unknown consumer ${consumer}`);

/** One measured run. */
async function measure() {
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const items = await run(ctx, model);
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wall0, items };
}

for (let i = 0; i < warmup + runs; i++) {
  let sample;
  try {
    sample = await measure();
  } catch (error) {
    // Now and then a kept-alive connection is closed by the server just as it is reused ("other side closed"):
    // that run is dropped and made again, once.
    console.error(
      `[bench] ${consumer} on ${model}: run failed (${error?.cause?.message ?? error?.message}); running it again`,
    );
    sample = await measure();
  }
  if (i >= warmup) await send(sample);
  if (gc && i + 1 >= warmup) globalThis.gc();
}
// Idle keep-alive sockets would hold the process open for seconds.
process.exit(0);
