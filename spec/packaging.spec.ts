/**
 * The package as users get it: build, `npm pack`, install the tarball with its peers into a fresh project, and use
 * every entry point once through `import` and once through `require`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderOf } from './support/harness.js';
import { startRedis, type PrivateRedis } from './support/redis-server.js';

const root = join(folderOf(import.meta.url), '..');
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_loglevel: 'error' },
  });

// Uses each entry point once: a fake server (testing), a stream through an operator (core), the Nest module (nest).
const usage = (load: string) => `
${load}
const server = await testing.FakeClaudeServer.start();
server.enqueue(testing.streamReply(testing.textMessage('Hello from the tarball')));
const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
const chunks = [];
await new Promise((resolve, reject) =>
  core.claudeStream(client, { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
    .pipe(core.textOnly())
    .subscribe({ next: (t) => chunks.push(t), error: reject, complete: resolve }),
);
await server.close();
const dynamicModule = nest.ClaudeStreamModule.forRoot({ client, defaults: { model: 'm', max_tokens: 10 } });
console.log(JSON.stringify({ text: chunks.join(''), module: dynamicModule.module.name, service: typeof nest.ClaudeStreamService }));
`;

// A small NestJS app written in plain JavaScript (decorators applied by hand), serving one SSE endpoint through
// ClaudeStreamService.sse() with the fake Claude server upstream. `load` brings in the modules for the module system.
const nestApp = (load: string, read = readByFetch) => `
${load}
class ChatController {
  constructor(claude) { this.claude = claude; }
  stream(q) { return this.claude.sse({ messages: [{ role: 'user', content: q }] }); }
}
common.Inject(nest.ClaudeStreamService)(ChatController, undefined, 0);
common.Query('q')(ChatController.prototype, 'stream', 0);
common.Sse('stream')(ChatController.prototype, 'stream', Object.getOwnPropertyDescriptor(ChatController.prototype, 'stream'));
common.Controller('chat')(ChatController);

const server = await testing.FakeClaudeServer.start();
server.enqueue(testing.streamReply(testing.textMessage('Hello from Nest')));
const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
class AppModule {}
common.Module({
  imports: [nest.ClaudeStreamModule.forRoot({ client, defaults: { model: 'm', max_tokens: 64 } })],
  controllers: [ChatController],
})(AppModule);

const app = await core.NestFactory.create(AppModule, { logger: false, forceCloseConnections: true });
await app.listen(0, '127.0.0.1');
const url = \`http://127.0.0.1:\${app.getHttpServer().address().port}/chat/stream?q=hi\`;
${read}
await app.close();
await server.close();
console.log(JSON.stringify(result));
`;

/** Reads the endpoint with fetch, and the SSE text by hand. */
const readByFetch = `
const response = await fetch(url);
const body = await response.text();
const text = [...body.matchAll(/"text":"([^"]*)"/g)].map((m) => m[1]).join('');
const result = { status: response.status, type: response.headers.get('content-type'), text, done: /event: done/.test(body) };
`;

/** Reads the endpoint with claude-rx/client (as \`browser\`, with rxjs as \`rx\`), as a browser app does. */
const readByClient = `
const message = await rx.lastValueFrom(browser.claudeSse(url).pipe(browser.accumulateMessage()));
server.enqueue(testing.streamReply(testing.textMessage('Hello from Nest')));
const usage = await rx.lastValueFrom(browser.claudeSse(url).pipe(browser.tokenUsage()));
const result = { text: message.content[0].text, stop: message.stop_reason, usage: usage.output_tokens > 0, wire: browser.SSE_WIRE_VERSION };
`;
const expectedApp = { status: 200, type: 'text/event-stream', text: 'Hello from Nest', done: true };

describe('the packed package', () => {
  let project: string;
  let tarball: string;

  beforeAll(() => {
    // The full build, samples included: the package's `files` must leave them out.
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
    project = mkdtempSync(join(tmpdir(), 'claude-rx-pack-'));
    const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', project], root)) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(project, packed[0]!.filename);
    const files = packed[0]!.files.map((f) => f.path);
    expect(files.some((f) => f.startsWith('dist/esm/lib/'))).toBe(true);
    expect(files.some((f) => f.startsWith('dist/cjs/lib/'))).toBe(true);
    expect(files.some((f) => f.startsWith('spec/') || f.startsWith('samples/') || f.startsWith('dist/samples'))).toBe(
      false,
    );
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }));
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const peers = [
      '@anthropic-ai/sdk',
      'rxjs',
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/platform-express',
      'reflect-metadata',
      'ioredis',
      '@opentelemetry/api',
      '@opentelemetry/sdk-metrics',
    ].map((name) => `${name}@${pkg.devDependencies[name]}`);
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, ...peers], project);
  }, 240_000);

  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('works through import (ESM)', () => {
    const file = join(project, 'use.mjs');
    writeFileSync(
      file,
      usage(`import Anthropic from '@anthropic-ai/sdk';
import * as core from 'claude-rx';
import * as nest from 'claude-rx/nest';
import * as testing from 'claude-rx/testing';`),
    );
    const out = execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      text: 'Hello from the tarball',
      module: 'ClaudeStreamModule',
      service: 'function',
    });
  });

  it('works through require (CommonJS)', () => {
    const file = join(project, 'use.cjs');
    writeFileSync(
      file,
      `(async () => {${usage(`const Anthropic = require('@anthropic-ai/sdk').default;
const core = require('claude-rx');
const nest = require('claude-rx/nest');
const testing = require('claude-rx/testing');`)}})().catch((e) => { console.error(e); process.exit(1); });`,
    );
    const out = execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      text: 'Hello from the tarball',
      module: 'ClaudeStreamModule',
      service: 'function',
    });
  });

  // claude-rx/redis on a real Redis: a stream written by one store, read back by another (another instance's).
  const redisUsage = (load: string, url: string) => `
${load}
const producing = new redis.RedisStreamStore(new Redis('${url}'), { onWarning: () => {} });
const reading = new redis.RedisStreamStore(new Redis('${url}'), { onWarning: () => {} });
const streams = new core.ResumableStreams({ store: producing });
const stream = await streams.start(rxjs.of({ type: 'text', data: '"one"' }, { type: 'done', data: '{}' }));
await new Promise((resolve) => setTimeout(resolve, 200));
const other = new core.ResumableStreams({ store: reading });
const read = await rxjs.lastValueFrom((await other.resume(stream.id + '.0')).pipe(rxjs.toArray()));
await producing.close();
await reading.close();
console.log(JSON.stringify(read.map((message) => message.type)));
process.exit(0);
`;

  describe('claude-rx/redis', () => {
    let redis: PrivateRedis;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis.stop());

    it.each([
      [
        'import',
        'use-redis.mjs',
        (body: string) => body,
        `import { Redis } from 'ioredis';
import * as rxjs from 'rxjs';
import * as core from 'claude-rx';
import * as redis from 'claude-rx/redis';`,
      ],
      [
        'require',
        'use-redis.cjs',
        (body: string) => `(async () => {${body}})().catch((e) => { console.error(e); process.exit(1); });`,
        `const { Redis } = require('ioredis');
const rxjs = require('rxjs');
const core = require('claude-rx');
const redis = require('claude-rx/redis');`,
      ],
    ])('shares a stream between two stores, through %s', (_, name, wrap, load) => {
      const file = join(project, name);
      writeFileSync(file, wrap(redisUsage(load, redis.url)));
      const out = execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
      expect(JSON.parse(out)).toEqual(['text', 'done']);
    });
  });

  it('classifies its errors across the ESM and CommonJS copies loaded in one process (code and instanceof)', () => {
    const file = join(project, 'dual.mjs');
    writeFileSync(
      file,
      `import { createRequire } from 'node:module';
import * as esm from 'claude-rx';
const cjs = createRequire(import.meta.url)('claude-rx');
const fromCjs = new cjs.IncompleteStreamError(undefined);
const fromEsm = new esm.ChunkTimeoutError({ bound: 'each', limitMs: 5, eventsSeen: 1 });
console.log(JSON.stringify({
  twoCopies: esm.IncompleteStreamError !== cjs.IncompleteStreamError,
  code: fromCjs.code,
  sameClass: fromCjs instanceof esm.IncompleteStreamError,
  base: fromCjs instanceof esm.ClaudeRxError && fromEsm instanceof cjs.ClaudeRxError,
  otherClass: fromCjs instanceof esm.ChunkTimeoutError,
  plainError: new Error('x') instanceof esm.ClaudeRxError,
}));`,
    );
    const out = execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      twoCopies: true,
      code: 'CLAUDE_RX_INCOMPLETE_STREAM',
      sameClass: true,
      base: true,
      otherClass: false,
      plainError: false,
    });
  });

  it('serves SSE in a NestJS 12 app (ESM)', () => {
    const file = join(project, 'nest-app.mjs');
    writeFileSync(
      file,
      nestApp(`import 'reflect-metadata';
import Anthropic from '@anthropic-ai/sdk';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as nest from 'claude-rx/nest';
import * as testing from 'claude-rx/testing';`),
    );
    const out = execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(expectedApp);
  });

  it('serves SSE in a NestJS 11 app (CommonJS)', () => {
    const cjsProject = join(project, 'nest11');
    execFileSync('mkdir', ['-p', cjsProject]);
    writeFileSync(
      join(cjsProject, 'package.json'),
      JSON.stringify({ name: 'nest11-consumer', private: true, version: '1.0.0', type: 'commonjs' }),
    );
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    npm(
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        tarball,
        '@nestjs/common@^11',
        '@nestjs/core@^11',
        '@nestjs/platform-express@^11',
        'reflect-metadata',
        `rxjs@${pkg.devDependencies.rxjs}`,
        `@anthropic-ai/sdk@${pkg.devDependencies['@anthropic-ai/sdk']}`,
      ],
      cjsProject,
    );
    const installed = JSON.parse(readFileSync(join(cjsProject, 'node_modules/@nestjs/core/package.json'), 'utf8')) as {
      version: string;
    };
    expect(installed.version).toMatch(/^11\./);
    const file = join(cjsProject, 'nest-app.cjs');
    writeFileSync(
      file,
      `(async () => {${nestApp(`require('reflect-metadata');
const Anthropic = require('@anthropic-ai/sdk').default;
const common = require('@nestjs/common');
const core = require('@nestjs/core');
const nest = require('claude-rx/nest');
const testing = require('claude-rx/testing');`)}})().catch((e) => { console.error(e); process.exit(1); });`,
    );
    const out = execFileSync(process.execPath, [file], { cwd: cjsProject, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(expectedApp);
  }, 240_000);

  it.each([
    [
      'import',
      'client-app.mjs',
      `import 'reflect-metadata';
import Anthropic from '@anthropic-ai/sdk';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as rx from 'rxjs';
import * as browser from 'claude-rx/client';
import * as nest from 'claude-rx/nest';
import * as testing from 'claude-rx/testing';`,
      (code: string) => code,
    ],
    [
      'require',
      'client-app.cjs',
      `require('reflect-metadata');
const Anthropic = require('@anthropic-ai/sdk').default;
const common = require('@nestjs/common');
const core = require('@nestjs/core');
const rx = require('rxjs');
const browser = require('claude-rx/client');
const nest = require('claude-rx/nest');
const testing = require('claude-rx/testing');`,
      (code: string) => `(async () => {${code}})().catch((e) => { console.error(e); process.exit(1); });`,
    ],
  ])('reads a NestJS SSE endpoint with claude-rx/client, through %s', (_, name, load, wrap) => {
    const file = join(project, name);
    writeFileSync(file, wrap(nestApp(load, readByClient)));
    const out = execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ text: 'Hello from Nest', stop: 'end_turn', usage: true, wire: 1 });
  });

  // The GenAI metrics through the app's own @opentelemetry/api (an optional peer), registered after claude-rx loaded.
  const telemetryUsage = (load: string) => `
${load}
const server = await testing.FakeClaudeServer.start();
server.enqueue(testing.streamReply(testing.textMessage('Hello, metrics', { chunkSize: 4 })));
const reader = new sdkMetrics.PeriodicExportingMetricReader({
  exporter: new sdkMetrics.InMemoryMetricExporter(sdkMetrics.AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 600000,
});
const provider = new sdkMetrics.MeterProvider({ readers: [reader] });
otel.metrics.setGlobalMeterProvider(provider);
const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
await rx.lastValueFrom(core.claudeStream(client, { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
const { resourceMetrics } = await reader.collect();
await provider.shutdown();
await server.close();
const names = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics.map((metric) => metric.descriptor.name));
console.log(JSON.stringify(names.sort()));
`;

  it.each([
    [
      'import',
      'telemetry.mjs',
      `import Anthropic from '@anthropic-ai/sdk';
import * as otel from '@opentelemetry/api';
import * as sdkMetrics from '@opentelemetry/sdk-metrics';
import * as rx from 'rxjs';
import * as core from 'claude-rx';
import * as testing from 'claude-rx/testing';`,
      (code: string) => code,
    ],
    [
      'require',
      'telemetry.cjs',
      `const Anthropic = require('@anthropic-ai/sdk').default;
const otel = require('@opentelemetry/api');
const sdkMetrics = require('@opentelemetry/sdk-metrics');
const rx = require('rxjs');
const core = require('claude-rx');
const testing = require('claude-rx/testing');`,
      (code: string) => `(async () => {${code}})().catch((e) => { console.error(e); process.exit(1); });`,
    ],
  ])("records the GenAI client metrics through the app's OpenTelemetry, through %s", (_, name, load, wrap) => {
    const file = join(project, name);
    writeFileSync(file, wrap(telemetryUsage(load)));
    const out = execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([
      'gen_ai.client.operation.duration',
      'gen_ai.client.operation.time_per_output_chunk',
      'gen_ai.client.operation.time_to_first_chunk',
      'gen_ai.client.token.usage',
    ]);
  });

  it('ships types for every entry, types first in the exports map', () => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/claude-rx/package.json'), 'utf8')) as {
      exports: Record<string, Record<string, Record<string, string>> | string>;
    };
    for (const entry of ['.', './nest', './testing', './redis', './client']) {
      const conditions = manifest.exports[entry] as Record<string, Record<string, string>>;
      for (const kind of ['import', 'require']) {
        expect(Object.keys(conditions[kind]!)[0]).toBe('types');
        readFileSync(join(project, 'node_modules/claude-rx', conditions[kind]!.types!));
      }
    }
    expect(manifest.exports['./package.json']).toBe('./package.json');
  });
});
