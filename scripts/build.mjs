// Builds the package: an ESM tree (dist/esm) and a CommonJS tree (dist/cjs) for every entry point,
// plus the runnable samples (dist/samples), which import `claude-rx` through the package's own exports map,
// and the demo page's script (dist/samples/nest-app/page.js), bundled for the browser.
//
// `node scripts/build.mjs --page-only [outfile]` bundles the demo page's script alone (the demo's tests do).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const PAGE_SCRIPT = 'dist/samples/nest-app/page.js';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (project) => execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });

/**
 * Bundles `samples/nest-app/page.ts` into one browser module, rxjs included: a browser cannot resolve bare imports.
 * `claude-rx/client` is taken from source through tsconfig.json's `paths`, as jest takes it, so that the bundle needs
 * no earlier build step. Writes `outfile` and `outfile.map`.
 */
async function bundlePage(outfile) {
  await build({
    entryPoints: ['samples/nest-app/page.ts'],
    tsconfig: 'tsconfig.json',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile,
    logLevel: 'warning',
  });
}

const pageOnly = process.argv.indexOf('--page-only');
if (pageOnly !== -1) {
  await bundlePage(process.argv[pageOnly + 1] ?? PAGE_SCRIPT);
} else {
  rmSync('dist', { recursive: true, force: true });
  run('tsconfig.build.json');
  run('tsconfig.cjs.json');
  // The CommonJS tree sits inside a `"type": "module"` package: this marker makes Node read it as CommonJS.
  mkdirSync('dist/cjs', { recursive: true });
  writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }, null, 2) + '\n');
  // What an app's browser bundle of `claude-rx/client` weighs, printed at every build.
  execFileSync(process.execPath, ['scripts/client-size.mjs'], { stdio: 'inherit' });
  if (!process.argv.includes('--no-samples')) {
    run('tsconfig.samples.json');
    await bundlePage(PAGE_SCRIPT);
  }
}
