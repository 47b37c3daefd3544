// Where things are: the package root, bench's folder, and the build being measured.
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const benchDir = fileURLToPath(new URL('../', import.meta.url));

/**
 * A file URL into the snapshot of claude-rx's ESM build (`bench/.build/esm/<path>`, copied from `dist/esm`), for
 * `import()`. `CLAUDE_RX_BENCH_BUILD` points elsewhere, e.g. at a patched copy while profiling.
 */
export const dist = (path) =>
  pathToFileURL(`${process.env.CLAUDE_RX_BENCH_BUILD ?? `${benchDir}.build`}/esm/${path}`).href;

/** A path into the snapshot of claude-rx's CommonJS build (`bench/.build/cjs/<path>`), for `require()`. */
export const distCjs = (path) => `${process.env.CLAUDE_RX_BENCH_BUILD ?? `${benchDir}.build`}/cjs/${path}`;
