import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { sleep } from './harness.js';

/** A private `redis-server` for one suite: on a free port of 127.0.0.1, persistence off, stopped after. */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** A new ioredis client of it (closed by `stop()`). */
  client(): Redis;
  /** Kills the server (SIGKILL), as a crash does. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function spawnServer(port: number): ChildProcess {
  return spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: 'ignore' },
  );
}

/** Sends PING on a raw socket (no client library: nothing left behind) until the server answers +PONG. */
async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(500, () => socket.destroy());
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        resolve(data.toString().startsWith('+PONG'));
        socket.destroy();
      });
      socket.once('error', () => resolve(false));
      socket.once('close', () => resolve(false));
    });
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within 10 s`);
    await sleep(50);
  }
}

/**
 * Starts a private redis-server (Debian's, installed by `scripts/ensure-redis.mjs` from `pretest`).
 *
 * @example
 * ```ts
 * let redis: PrivateRedis;
 * beforeAll(async () => (redis = await startRedis()));
 * afterAll(() => redis.stop());
 * ```
 */
export async function startRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child = spawnServer(port);
  await waitForPing(port);
  const clients: Redis[] = [];
  const exited = (process: ChildProcess) =>
    process.exitCode !== null || process.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => process.once('exit', () => resolve()));
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client() {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      clients.push(client);
      return client;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async restart() {
      child = spawnServer(port);
      await waitForPing(port);
    },
    async stop() {
      for (const client of clients) client.disconnect();
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
