// The redis suite's private redis-server, and what it counts: every command the bench's clients send, by client.
//
// The server is Debian's `redis-server` (installed by `node scripts/ensure-redis.mjs`, which `npm test` runs), started
// on a free port of 127.0.0.1 with persistence off and killed after the suite. The counting is done at the server,
// by MONITOR on a connection of its own: each command seen is put down to the client that sent it, known by the name
// it gave (`connectionName` in ioredis, which sends `CLIENT SETNAME` first on every connection, its duplicates'
// included; `CLIENT LIST` tells who is who); the commands a Lua script runs are counted apart (MONITOR shows them as
// from `lua`). MONITOR is on only while counting (it slows the server down: it formats every command, each of a
// script's calls included), and a marker (`ECHO` on a connection of the bench's) ends the window exactly, in the
// order the server ran the commands.
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Why the suite cannot run here, or undefined when redis-server is there. */
export function redisServerMissing() {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) {
    return "redis-server is not installed (`node scripts/ensure-redis.mjs` installs Debian's, as `npm test` does)";
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

/** The commands `INFO commandstats` counts by subcommand (`client|id`). */
const CONTAINERS = new Set([
  'ACL',
  'CLIENT',
  'CLUSTER',
  'COMMAND',
  'CONFIG',
  'FUNCTION',
  'LATENCY',
  'MEMORY',
  'MODULE',
  'OBJECT',
  'PUBSUB',
  'SCRIPT',
  'SLOWLOG',
  'XGROUP',
  'XINFO',
]);

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

  // The control connection: markers, and the names of the clients (CLIENT LIST), each answer ended by an ECHO.
  /** Client address → the name it gave. */
  const names = new Map();
  const echoes = new Map();
  /** Where the lines of an `INFO commandstats` answer go: command (`client|unblock`) → calls. */
  let commandStats;
  const control = await rawConnection(port, (text) => {
    const client = /\baddr=(\S+) .*\bname=(\S*)/.exec(text);
    const stat = /^cmdstat_([^:]+):calls=(\d+)/.exec(text);
    if (client) names.set(client[1], client[2]);
    else if (stat) commandStats?.set(stat[1], Number(stat[2]));
    else echoes.get(text)?.();
  });
  let tokens = 0;
  /** Sends `commands` on the control connection; resolves once they are answered. */
  const control$ = (commands) => {
    const token = `bench-${++tokens}`;
    const answered = new Promise((resolve) => echoes.set(token, resolve));
    control.write(`${commands}ECHO ${token}\r\n`);
    return answered.finally(() => echoes.delete(token));
  };
  await control$('CLIENT SETNAME bench\r\n');
  const statsNow = async () => {
    commandStats = new Map();
    await control$('INFO commandstats\r\n');
    const stats = commandStats;
    commandStats = undefined;
    return stats;
  };

  return {
    port,
    /**
     * Starts counting the commands the server runs: resolves once MONITOR is on. `stop()` of what it resolves to
     * resolves, once the server has run every command sent before it, to what was counted, by client name:
     * `{ byClient: { <name>: { <command>: n } }, scripts: { <command>: n }, unmonitored: { <command>: n } }`, the
     * last the commands MONITOR does not show (admin commands such as `CLIENT UNBLOCK`), from `INFO commandstats`.
     */
    async count() {
      const counts = { byAddress: {}, scripts: {} };
      /** Every command MONITOR showed, as `INFO commandstats` names it: to find the ones it did not show. */
      const shown = new Map();
      /** Client addresses inside MULTI: its commands until EXEC go as one transaction. */
      const inMulti = new Set();
      const line = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] /;
      const token = `bench-end-${++tokens}`;
      let monitoring;
      const monitored = new Promise((resolve) => (monitoring = resolve));
      let ending;
      const ended = new Promise((resolve) => (ending = resolve));
      const monitor = await rawConnection(port, (text) => {
        if (text === '+OK') return monitoring();
        const match = line.exec(text);
        if (!match) return;
        const from = match[1];
        const [command = '', first = ''] = tokensOf(text, match[0].length, 2);
        const name = command.toUpperCase();
        const statName = CONTAINERS.has(name) ? `${command}|${first}`.toLowerCase() : command.toLowerCase();
        shown.set(statName, (shown.get(statName) ?? 0) + 1);
        if (name === 'ECHO' && first === token) return ending();
        if (from === 'lua') {
          counts.scripts[name] = (counts.scripts[name] ?? 0) + 1;
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
        const byCommand = (counts.byAddress[from] ??= {});
        byCommand[label] = (byCommand[label] ?? 0) + 1;
      });
      monitor.write('MONITOR\r\n');
      await monitored;
      await control$('CLIENT LIST\r\n');
      const before = await statsNow();
      return {
        async stop() {
          control.write(`ECHO ${token}\r\n`);
          await ended;
          const after = await statsNow();
          monitor.destroy();
          const unmonitored = {};
          for (const [command, calls] of after) {
            const missed = calls - (before.get(command) ?? 0) - (shown.get(command) ?? 0);
            if (missed > 0) unmonitored[command.replace('|', ' ').toUpperCase()] = missed;
          }
          // Clients that connected meanwhile are named too.
          await control$('CLIENT LIST\r\n');
          const byClient = {};
          for (const [address, byCommand] of Object.entries(counts.byAddress)) {
            const client = names.get(address) || 'unnamed';
            if (client === 'bench') continue;
            const sum = (byClient[client] ??= {});
            for (const [command, n] of Object.entries(byCommand)) sum[command] = (sum[command] ?? 0) + n;
          }
          return { byClient, scripts: counts.scripts, unmonitored };
        },
      };
    },
    async stop() {
      control.destroy();
      child.kill('SIGKILL');
      await exited;
    },
  };
}
