#!/usr/bin/env node
// The full soak (`npm run soak`): spec/reliability/soak.spec.ts at full size, under `node --expose-gc` so that it
// also checks the heap. 10,000 sequential and 500 concurrent streams through `claudeStream` with the default
// operators, then as many clients of the NestJS SSE endpoint, a random tenth given up mid-stream; it fails unless
// every upstream request was closed, no socket or timer was left open, the heap after GC stayed within 10 MB, and
// no warning or unhandled rejection came. Prints the figures as a markdown table, for BENCHMARKS.md.
//
// Environment: CLAUDE_RX_SOAK_SEED=<n> replays the random choices of a run (its seed is printed).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'claude-rx-soak-'));
const report = join(dir, 'figures.json');
const jest = ['--expose-gc', '--experimental-vm-modules', 'node_modules/jest/bin/jest.js', 'spec/reliability/soak'];
const run = spawnSync(process.execPath, jest, {
  stdio: 'inherit',
  env: { ...process.env, CLAUDE_RX_SOAK: 'full', CLAUDE_RX_SOAK_REPORT: report },
});

let figures;
try {
  figures = JSON.parse(readFileSync(report, 'utf8'));
} catch {
  figures = undefined;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (run.status !== 0 || !figures) {
  console.error('soak: FAILED (see above)');
  process.exit(run.status || 1);
}

const row = (name, phase) => {
  const { streams, gaveUp, failed, seconds, upstream, heapDeltaMB } = phase;
  return `| ${name} | ${streams} | ${gaveUp} | ${failed} | ${seconds} | ${Math.round(streams / seconds)} | ${upstream.opened} / ${upstream.closed} / ${upstream.abortedByClient} | ${heapDeltaMB ?? 'n/a'} |`;
};
const resources = (counts) =>
  Object.entries(counts)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(', ') || 'none';
console.log(
  [
    '',
    `Soak (${figures.mode}), Node ${figures.node}, seed ${figures.seed}:`,
    '',
    '| path | streams | given up | failed | seconds | streams/s | upstream opened / closed / aborted by client | heap after GC, change (MB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
    row('`claudeStream` + default operators', figures.claudeStream),
    row('NestJS SSE endpoint', figures.nestSse),
    '',
    `Heap at start ${figures.heapAtStartMB ?? 'n/a'} MB; RSS ${figures.rssAtStartMB} MB at start, ${figures.rssPeakMB} MB at the end.`,
    `Open sockets, servers and timers: ${resources(figures.resourcesAtStart)} before, ${resources(figures.resourcesAtEnd)} after.`,
    `Warnings: ${figures.warnings}; unhandled rejections: ${figures.unhandledRejections}.`,
  ].join('\n'),
);
