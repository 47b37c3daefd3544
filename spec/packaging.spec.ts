/**
 * The package as users get it: build, `npm pack`, install the tarball with its peers into a fresh project, and use
 * every entry point once through `import` and once through `require`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
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

describe('the packed package', () => {
  let project: string;
  let tarball: string;

  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs', '--no-samples'], { cwd: root, stdio: 'pipe' });
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
    const peers = ['@anthropic-ai/sdk', 'rxjs', '@nestjs/common', '@nestjs/core', 'reflect-metadata'].map(
      (name) => `${name}@${pkg.devDependencies[name]}`,
    );
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

  it('ships types for every entry, types first in the exports map', () => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/claude-rx/package.json'), 'utf8')) as {
      exports: Record<string, Record<string, Record<string, string>> | string>;
    };
    for (const entry of ['.', './nest', './testing']) {
      const conditions = manifest.exports[entry] as Record<string, Record<string, string>>;
      for (const kind of ['import', 'require']) {
        expect(Object.keys(conditions[kind]!)[0]).toBe('types');
        readFileSync(join(project, 'node_modules/claude-rx', conditions[kind]!.types!));
      }
    }
    expect(manifest.exports['./package.json']).toBe('./package.json');
  });
});
