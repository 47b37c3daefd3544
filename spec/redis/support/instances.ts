import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { folderOf } from '../../support/harness.js';

const root = join(folderOf(import.meta.url), '..', '..', '..');
/** Where the instance program is compiled: ignored by git, ESLint and Prettier. */
const outDir = join(root, '.artifacts', 'redis-instance');
const entry = join(outDir, 'spec', 'redis', 'support', 'instance-main.js');

let built = false;

/**
 * Compiles `instance-main.ts` (and the lib/ and nest-module/ sources it imports) to JavaScript, once per process:
 * each instance is a `node` process of its own, as in production.
 */
export function buildInstance(): void {
  if (built) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(
    process.execPath,
    [
      tsc,
      // The project's tsconfig is for checking (no emit, jest types); this build takes its own settings.
      '--ignoreConfig',
      '--outDir',
      outDir,
      '--rootDir',
      root,
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--target',
      'ES2022',
      '--experimentalDecorators',
      '--emitDecoratorMetadata',
      '--skipLibCheck',
      '--esModuleInterop',
      '--types',
      'node',
      join(root, 'spec', 'redis', 'support', 'instance-main.ts'),
    ],
    { cwd: root, stdio: 'pipe' },
  );
  built = true;
}

/** Settings of one instance. */
export interface InstanceSettings {
  readonly redisUrl: string;
  readonly claudeUrl: string;
  readonly graceMs?: number;
  readonly drainMs?: number;
  /** A port to listen on (a restarted instance takes its predecessor's); 0 for any. */
  readonly port?: number;
}

/** An app instance running in a process of its own. */
export interface Instance {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** What it wrote on stderr (its warnings, one JSON line each), so far. */
  readonly stderr: string[];
  /** A deploy's stop: SIGTERM, then waits for the process to exit (after its drain). */
  stop(): Promise<void>;
  /** A crash: SIGKILL, then waits for the process to be gone. */
  kill(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts an instance and resolves once it listens. */
export async function startInstance(settings: InstanceSettings): Promise<Instance> {
  buildInstance();
  const child = spawn(process.execPath, [entry], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      REDIS_URL: settings.redisUrl,
      CLAUDE_BASE_URL: settings.claudeUrl,
      GRACE_MS: String(settings.graceMs ?? 3_000),
      DRAIN_MS: String(settings.drainMs ?? 5_000),
      PORT: String(settings.port ?? 0),
    },
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the instance exited (${String(code)}): ${stderr.join('\n')}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    process: child,
    stderr,
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
