// The redis suite's private redis-server, and what it counts: every command the bench's clients send, by client.
//
// The server is Debian's `redis-server` (installed by `node scripts/ensure-redis.mjs`, which `npm test` runs), started
// on a free port of 127.0.0.1 with persistence off and killed after the suite. The counting is done at the server,
// by MONITOR on a connection of its own: each command seen is put down to the client that sent it, known by the name
// it gave (`connectionName` in ioredis, which sends `CLIENT SETNAME` first on every connection, its duplicates'
// included); the commands a Lua script runs are counted apart (MONITOR shows them as from `lua`). A marker (`ECHO`
// on a third connection) cuts the monitored commands into windows exactly, in the order the server ran them.
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Why the suite cannot run here, or undefined when redis-server is there. */
export function redisServerMissing() {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) {
    return 'redis-server is not installed (`node scripts/ensure-redis.mjs` installs Debian\'s, as `npm test` does)';
  }
  return undefined;
}

/** The version line of redis-server, e.g. `7.0.15`. */
export function redisServerVersion() {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) return 'not installed';
  return /v=(\S+)/.exec(found.stdout ?? '')?.[1] ?? 'unknown';
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A raw connection that sends inline commands and hands each reply line to `onLine` (no client library). */
function rawConnection(port, onLine) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    // Only the start of each line matters (the first tokens of a monitored command), and MONITOR's lines can be
    // megabytes long (a script call carrying thousands of events): the rest of a line is skipped, not kept.
    const HEAD = 4096;
    let head = '';
    socket.on('data', (chunk) => {
      let start = 0;
      let end;
      while ((end = chunk.indexOf('\n', start)) >= 0) {
        if (head.length < HEAD) head += chunk.slice(start, Math.min(end, start + HEAD - head.length));
        onLine(head.endsWith('\r') ? head.slice(0, -1) : head);
        head = '';
        start = end + 1;
      }
      if (head.length < HEAD) head += chunk.slice(start, start + HEAD - head.length);
    });
  });
}

/** The first `count` quoted tokens of a MONITOR line, unescaped (MONITOR escapes as `sdscatrepr` does). */
function tokensOf(text, from, count) {
  const tokens = [];
  const quoted = /"((?:[^"\\]|\\.)*)"/y;
  quoted.lastIndex = from;
  while (tokens.length < count) {
    const match = quoted.exec(text);
    if (!match) break;
    tokens.push(
      match[1].replace(/\\(x[0-9a-f]{2}|.)/g, (_, escape) => {
        if (escape.length === 3) return String.fromCharCode(parseInt(escape.slice(1), 16));
        return { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' }[escape] ?? escape;
      }),
    );
    quoted.lastIndex++;
  }
  return tokens;
}

/**
 * Starts a private redis-server and its monitor. `scripts` maps a Lua script's text to its name, so that an EVAL is
 * counted as `EVAL <name>`.
 */
export async function startRedisServer({ scripts = new Map() } = {}) {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const failed = new Promise((_, reject) => child.once('error', reject));
  failed.catch(() => undefined);

  // Waits for PONG, on raw sockets.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answered = await Promise.race([
      failed,
      new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.setTimeout(500, () => socket.destroy());
        socket.once('connect', () => socket.write('PING\r\n'));
        socket.once('data', (data) => {
          resolve(data.toString().startsWith('+PONG'));
          socket.destroy();
        });
        socket.once('error', () => resolve(false));
        socket.once('close', () => resolve(false));
      }),
    ]);
    if (answered) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${port}`);
    }
    await sleep(50);
  }

  /** Client address → the name it gave. */
  const names = new Map();
  /** Client addresses inside MULTI: its commands until EXEC go as one transaction. */
  const inMulti = new Set();
  let counts = newCounts();
  const marks = new Map();
  const line = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] /;

  let monitoring;
  const monitored = new Promise((resolve) => (monitoring = resolve));
  const onMonitorLine = (text) => {
    if (text === '+OK') return monitoring();
    const match = line.exec(text);
    if (!match) return;
    const from = match[1];
    const [command = '', first = ''] = tokensOf(text, match[0].length, 2);
    const name = command.toUpperCase();
    if (from === 'lua') {
      counts.scripts[name] = (counts.scripts[name] ?? 0) + 1;
      return;
    }
    if (name === 'CLIENT' && first.toUpperCase() === 'SETNAME') {
      names.set(from, tokensOf(text, match[0].length, 3)[2]);
      return;
    }
    const client = names.get(from) ?? 'unnamed';
    if (client === 'bench') {
      if (name === 'ECHO') marks.get(first)?.();
      return;
    }
    // A transaction is one round trip: MULTI ... EXEC counts once, as `MULTI…EXEC`.
    if (name === 'MULTI') inMulti.add(from);
    if (inMulti.has(from)) {
      if (name !== 'EXEC' && name !== 'DISCARD') return;
      inMulti.delete(from);
    }
    let label = name;
    if (name === 'EXEC') label = 'MULTI…EXEC';
    else if (name === 'CLIENT') label = `CLIENT ${first.toUpperCase()}`;
    else if (name === 'EVAL') label = `EVAL ${scripts.get(first) ?? '(other script)'}`;
    const byCommand = (counts.byClient[client] ??= {});
    byCommand[label] = (byCommand[label] ?? 0) + 1;
  };

  const monitor = await rawConnection(port, onMonitorLine);
  monitor.write('MONITOR\r\n');
  await monitored;
  const control = await rawConnection(port, () => undefined);
  control.write('CLIENT SETNAME bench\r\n');
  let markCount = 0;

  return {
    port,
    /**
     * Resolves, once the server has run every command sent before it, to what was counted since the previous mark:
     * `{ byClient: { <name>: { <command>: n } }, scripts: { <command>: n } }`.
     */
    async mark() {
      const token = `bench-mark-${++markCount}`;
      const seen = new Promise((resolve) => marks.set(token, resolve));
      control.write(`ECHO ${token}\r\n`);
      await seen;
      marks.delete(token);
      const window = counts;
      counts = newCounts();
      return window;
    },
    async stop() {
      monitor.destroy();
      control.destroy();
      child.kill('SIGKILL');
      await exited;
    },
  };
}

function newCounts() {
  return { byClient: {}, scripts: {} };
}
