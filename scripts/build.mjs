// Builds the package: an ESM tree (dist/esm) and a CommonJS tree (dist/cjs) for every entry point,
// plus the runnable samples (dist/samples), which import `claude-rx` through the package's own exports map.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (project) => execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
run('tsconfig.build.json');
run('tsconfig.cjs.json');
// The CommonJS tree sits inside a `"type": "module"` package: this marker makes Node read it as CommonJS.
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }, null, 2) + '\n');
// What an app's browser bundle of `claude-rx/client` weighs, printed at every build.
execFileSync(process.execPath, ['scripts/client-size.mjs'], { stdio: 'inherit' });
if (!process.argv.includes('--no-samples')) run('tsconfig.samples.json');
