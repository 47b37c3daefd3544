// Prints the size of `claude-rx/client` in a browser bundle, as an app's bundler would make it: every export of the
// built ESM entry (dist/esm/lib/client), bundled and minified by esbuild for the browser with rxjs left out (the app
// has its own), then gzipped. `spec/client/client-size.spec.ts` holds it to its budget.
//
// Run: `node scripts/client-size.mjs` after `npm run build` (the build runs it).
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The budget, in bytes (8 KB). */
export const CLIENT_SIZE_BUDGET = 8_000;

/** The entry's size in bytes, minified and gzipped; `root` holds the built `dist/`. */
export async function clientSize(root = process.cwd()) {
  const result = await build({
    stdin: { contents: "export * from './dist/esm/lib/client/index.js';", resolveDir: root },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    external: ['rxjs'],
    write: false,
    metafile: true,
    logLevel: 'error',
  });
  const code = result.outputFiles[0].contents;
  // What went into the bundle: the client's modules and eventsource-parser, never the SDK or a Node built-in.
  const inputs = Object.keys(result.metafile.inputs);
  return { minified: code.length, gzipped: gzipSync(code).length, inputs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { minified, gzipped } = await clientSize();
  const kb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`;
  const verdict = gzipped <= CLIENT_SIZE_BUDGET ? 'within' : `${gzipped - CLIENT_SIZE_BUDGET} B over`;
  console.log(
    `[client-size] claude-rx/client in a browser bundle (rxjs left out): ${kb(minified)} minified, ` +
      `${gzipped} B gzipped (${verdict} its budget of ${CLIENT_SIZE_BUDGET} B)`,
  );
}
