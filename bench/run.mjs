#!/usr/bin/env node
// claude-rx benchmarks: `npm run bench` (full, the published table) or `npm run bench -- --quick` (CI-size).
//
// 1. builds the package (`node scripts/build.mjs --no-samples`) and snapshots `dist/esm` into `bench/.build`;
// 2. installs bench's own dependencies (LangChain.js, the Vercel AI SDK) if missing: `npm ci --prefix bench`;
// 3. runs the suites against the fake Claude server in a child process, prints the tables, and (full mode, or with
//    --write) writes them into BENCHMARKS.md between its `bench:results` markers; every run also leaves
//    bench/.build/results/last-run.{json,md}.
//
// Options: --quick, --no-build, --no-install, --write, --only=own,text,thinking,choices,tool,sse,resume,redis, --render
// (the last run's results rendered again and written; nothing measured);
// CLAUDE_RX_BENCH_BUILD=<dir> measures the build in <dir>/esm instead (no build, no snapshot), e.g. a patched copy
// while profiling.
// Benchmarks are not tests: nothing here fails on a missed target; the tables say which are missed.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchDir, root } from './lib/paths.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const quick = flag('quick');
const only = argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const runs = (suite) => !only || only.includes(suite);

// --render: the last run's results (bench/.build/results/last-run.json) rendered again by the current report code and
// written into BENCHMARKS.md, as after a full run; nothing is measured.
if (flag('render')) {
  const report = await import('./lib/report.mjs');
  const markdown = report.render(JSON.parse(readFileSync(`${benchDir}.build/results/last-run.json`, 'utf8')));
  console.log(markdown);
  report.writeInto(`${root}BENCHMARKS.md`, markdown);
  process.exit(0);
}
const log = (...args) => console.error('[bench]', ...args);
const startedAt = performance.now();

// 1000 SSE clients hold about 4000 sockets across the processes: raise the soft file limit once if it is low.
const FILE_LIMIT = 8192;
if (process.platform !== 'win32' && !process.env.CLAUDE_RX_BENCH_ULIMIT) {
  const soft = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  if (Number.isFinite(soft) && soft < FILE_LIMIT) {
    const script = `ulimit -n ${FILE_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
    const again = spawnSync('sh', ['-c', script, process.execPath, ...process.execArgv, process.argv[1], ...argv], {
      stdio: 'inherit',
      env: { ...process.env, CLAUDE_RX_BENCH_ULIMIT: '1' },
    });
    process.exit(again.status ?? 1);
  }
}

if (process.env.CLAUDE_RX_BENCH_BUILD) {
  log(`using the build in ${process.env.CLAUDE_RX_BENCH_BUILD} (CLAUDE_RX_BENCH_BUILD)`);
} else {
  if (!flag('no-build')) {
    log('building the package: node scripts/build.mjs --no-samples');
    execFileSync(process.execPath, ['scripts/build.mjs', '--no-samples'], { cwd: root, stdio: 'inherit' });
  }
  if (!existsSync(`${root}dist/esm/lib/index.js`)) throw new Error('no build in dist/esm: run without --no-build');
  // A snapshot, so that a rebuild while the bench runs (`npm test`, an editor) cannot pull the files from under it.
  rmSync(`${benchDir}.build`, { recursive: true, force: true });
  cpSync(`${root}dist/esm`, `${benchDir}.build/esm`, { recursive: true });
  cpSync(`${root}dist/cjs`, `${benchDir}.build/cjs`, { recursive: true });
}

const BENCH_DEPENDENCIES = ['@langchain/anthropic', '@langchain/core', 'ai', '@ai-sdk/anthropic'];
const installed = () => BENCH_DEPENDENCIES.every((name) => existsSync(`${benchDir}node_modules/${name}/package.json`));
if (!installed() && !flag('no-install')) {
  log("installing bench's own dependencies: npm ci --prefix bench");
  execFileSync('npm', ['ci', '--prefix', benchDir, '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

// bench/.npmrc installs nested, so that LangChain's own, older SDK stays inside it: the bench's `@anthropic-ai/sdk`,
// like claude-rx's, must be the package's (root) one.
if (existsSync(`${benchDir}node_modules/@anthropic-ai/sdk`)) {
  throw new Error(
    'bench/node_modules/@anthropic-ai/sdk shadows the package SDK: rm -rf bench/node_modules && npm ci --prefix bench',
  );
}

// Imported only now: they load the snapshot.
const { ownCostSuite, streamSuite, choicesSuite, toolSuite, sseSuite, resumeSuite, redisSuite, startUpstream } =
  await import('./lib/suites.mjs');
const { redisServerVersion } = await import('./lib/redis-server.mjs');
const report = await import('./lib/report.mjs');

const versionOf = (name, from = root) => {
  try {
    return JSON.parse(readFileSync(`${from}node_modules/${name}/package.json`, 'utf8')).version;
  } catch {
    return 'not installed';
  }
};

const environment = {
  date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  mode: quick ? 'quick' : 'full',
  command: `npm run bench${quick ? ' -- --quick' : ''}`,
  cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}`,
  memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  os: `${os.type()} ${os.release()}`,
  node: process.version,
  loadAverage: os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' '),
  versions: {
    '@anthropic-ai/sdk': versionOf('@anthropic-ai/sdk'),
    rxjs: versionOf('rxjs'),
    '@nestjs/core': versionOf('@nestjs/core'),
    '@langchain/anthropic': versionOf('@langchain/anthropic', benchDir),
    '@langchain/core': versionOf('@langchain/core', benchDir),
    ai: versionOf('ai', benchDir),
    '@ai-sdk/anthropic': versionOf('@ai-sdk/anthropic', benchDir),
    ioredis: versionOf('ioredis'),
    'redis-server': redisServerVersion(),
  },
};

const upstream = await startUpstream();
const results = { environment };
try {
  if (runs('own')) results.own = await ownCostSuite({ quick, log });
  if (runs('text')) results.text = await streamSuite('text', { quick, log, url: upstream.url });
  if (runs('thinking')) results.thinking = await streamSuite('thinking', { quick, log, url: upstream.url });
  if (runs('choices')) results.choices = await choicesSuite({ quick, log, url: upstream.url });
  if (runs('tool')) results.tool = await toolSuite({ quick, log, url: upstream.url });
  if (runs('sse')) results.sse = await sseSuite({ quick, log, url: upstream.url });
  if (runs('resume')) results.resume = await resumeSuite({ quick, log, url: upstream.url });
  if (runs('redis')) results.redis = await redisSuite({ quick, log, url: upstream.url });
} finally {
  await upstream.stop();
}
results.environment.durationS = Math.round((performance.now() - startedAt) / 1000);

const markdown = report.render(results);
console.log(markdown);
// Next to the snapshot: ignored by git, ESLint and Prettier alike.
mkdirSync(`${benchDir}.build/results`, { recursive: true });
writeFileSync(`${benchDir}.build/results/last-run.json`, JSON.stringify(results, null, 2) + '\n');
writeFileSync(`${benchDir}.build/results/last-run.md`, markdown + '\n');
if (!quick || flag('write')) {
  report.writeInto(`${root}BENCHMARKS.md`, markdown);
  log('wrote the tables into BENCHMARKS.md');
}
log(`done in ${results.environment.durationS} s`);
