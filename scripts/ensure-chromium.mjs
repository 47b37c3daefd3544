// Makes sure Debian's Chromium is installed for the browser tests (spec/e2e/), without downloading a browser any
// other way: if /usr/bin/chromium is missing and we are root, `apt-get update` then `apt-get install -y chromium`.
// Exits 0 when Chromium is there (or was installed), 1 when it is missing and cannot be installed from here.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Installs Chromium if needed; returns whether it is available. */
export function ensureChromium({ log = (line) => console.error(`[ensure-chromium] ${line}`) } = {}) {
  if (existsSync(CHROMIUM_PATH)) return true;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root) {
    log(`${CHROMIUM_PATH} is missing and this is not root: run \`sudo apt-get install -y chromium\`.`);
    return false;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    log(`${CHROMIUM_PATH} is missing: running apt-get ${args.join(' ')}`);
    execFileSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  }
  const ok = existsSync(CHROMIUM_PATH);
  log(ok ? `installed ${CHROMIUM_PATH}` : `apt-get finished but ${CHROMIUM_PATH} is still missing`);
  return ok;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = ensureChromium() ? 0 : 1;
