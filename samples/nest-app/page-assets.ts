import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the demo serves besides its API: the page, and its script bundled for the browser. */
export interface PageAssets {
  /** `index.html`. */
  readonly html: string;
  /** `page.js`: `page.ts` bundled with rxjs and `claude-rx/client` by `npm run build` (`scripts/build.mjs`). */
  readonly script: string;
  /** `page.js.map`, when it is there. */
  readonly sourceMap: string | undefined;
}

/** The injection token of {@link PageAssets}. */
export const PAGE_ASSETS = Symbol('PAGE_ASSETS');

/** A file's text, or `undefined` when it cannot be read. */
function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Reads the page and its script once, at start-up. The build compiles only TypeScript into `dist/samples/nest-app/`,
 * so `index.html` is read from the source folder; `page.js` is the bundle that the build writes there, beside this
 * module's compiled form, unless `scriptFile` names another one.
 *
 * @throws Error saying what to run when a file is missing.
 */
export function loadPageAssets(scriptFile?: string): PageAssets {
  const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
  const html = read(here('./index.html')) ?? read(here('../../../samples/nest-app/index.html'));
  if (html === undefined) throw new Error('samples/nest-app/index.html not found');
  // From dist/samples/nest-app/ (npm start), or from samples/nest-app/ (the TypeScript run by a test).
  const candidates = scriptFile
    ? [resolve(scriptFile)]
    : [here('./page.js'), here('../../dist/samples/nest-app/page.js')];
  for (const file of candidates) {
    const script = read(file);
    if (script !== undefined) return { html, script, sourceMap: read(`${file}.map`) };
  }
  throw new Error(
    `the page's script (${candidates.join(' or ')}) is missing: run \`npm run build\`, which bundles ` +
      'samples/nest-app/page.ts',
  );
}
