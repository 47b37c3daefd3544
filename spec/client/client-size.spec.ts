import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

// The budget of `claude-rx/client` in an app's browser bundle (minified, gzipped, rxjs left out), measured on the
// built ESM entry as `scripts/client-size.mjs` prints it at every build.
describe('claude-rx/client in a browser bundle', () => {
  let out: string;

  beforeAll(() => {
    // Inside the project, so that the bundler finds eventsource-parser in its node_modules.
    out = join(process.cwd(), '.artifacts/client-size');
    rmSync(out, { recursive: true, force: true });
    const tsc = createRequire(join(process.cwd(), 'package.json')).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', join(out, 'dist/esm')], {
      stdio: 'inherit',
    });
  }, 120_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is at most 8 KB minified and gzipped, with no Node built-in and no SDK in it', async () => {
    const script = join(process.cwd(), 'scripts/client-size.mjs');
    const { clientSize, CLIENT_SIZE_BUDGET } = (await import(script)) as {
      clientSize(root: string): Promise<{ minified: number; gzipped: number; inputs: readonly string[] }>;
      CLIENT_SIZE_BUDGET: number;
    };
    const { gzipped, inputs } = await clientSize(out);
    expect(CLIENT_SIZE_BUDGET).toBe(8_000);
    expect(gzipped).toBeLessThanOrEqual(CLIENT_SIZE_BUDGET);
    expect(inputs.filter((input) => /@anthropic-ai|^node:/.test(input))).toEqual([]);
    expect(inputs).toContainEqual(expect.stringContaining('eventsource-parser'));
  });
});
