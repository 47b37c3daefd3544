// Child processes with an IPC channel, and the little protocol the bench speaks over it.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));

/** Forks `lib/<file>` with `args` (JSON-encoded when not a string) and V8 `flags`; stdout/stderr go to ours. */
export function start(file, args = [], flags = []) {
  return fork(
    here(file),
    args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))),
    {
      execArgv: flags,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
}

/** The next message from `child` that `accept` takes; rejects if the child exits first. */
export function next(child, accept = () => true) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (!accept(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`${child.spawnfile} ${child.spawnargs.at(1)} exited (${signal ?? code}) before answering`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Sends `request` ({ type, ... }) and waits for the answer of the same type. */
export function ask(child, request) {
  const answer = next(child, (message) => message?.type === request.type);
  child.send(request);
  return answer;
}

/** Every message until the child exits; rejects if it exits with an error. */
export function collect(child) {
  const messages = [];
  child.on('message', (message) => messages.push(message));
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(messages);
      else reject(new Error(`${child.spawnargs.slice(1, 2).join(' ')} failed (${signal ?? code})`));
    });
  });
}

/** Stops a child we started: asks it to close, then kills it if it has not exited within `ms`. */
export async function stop(child, ms = 2000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.send({ type: 'close' });
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}
