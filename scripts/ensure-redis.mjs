// Makes sure Debian's redis-server is installed for the Redis specs (spec/redis/), as ensure-chromium.mjs does for
// Chromium: if `redis-server` is missing and we are root, `apt-get update` then `apt-get install -y redis-server`.
// Only the binary is used: each suite starts a private server of its own on a free port; the Debian service that the
// package may start is not used (and is stopped, so that it holds no port or memory).
// Exits 0 when redis-server is there (or was installed), 1 when it is missing and cannot be installed from here.
import { execFileSync, spawnSync } from 'node:child_process';

/** Whether `redis-server` runs. */
function present() {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Installs redis-server if needed; returns whether it is available. */
export function ensureRedis({ log = (line) => console.error(`[ensure-redis] ${line}`) } = {}) {
  if (present()) return true;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root) {
    log('redis-server is missing and this is not root: run `sudo apt-get install -y redis-server`.');
    return false;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'redis-server']]) {
    log(`redis-server is missing: running apt-get ${args.join(' ')}`);
    execFileSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  }
  // The package's own service is of no use here.
  spawnSync('service', ['redis-server', 'stop'], { stdio: 'ignore' });
  const ok = present();
  log(ok ? 'installed redis-server' : 'apt-get finished but redis-server is still missing');
  return ok;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = ensureRedis() ? 0 : 1;
