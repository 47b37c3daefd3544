import { createHook } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { config, Observable, type Subscriber, type Subscription } from 'rxjs';
import type { FakeClaudeServer, RecordedRequest } from 'claude-rx/testing';
import { watchProcess } from '../support.js';

/** The callbacks a pipeline calls out to, where a consumer may leave. */
export type Callback = 'next' | 'heartbeat' | 'onRetry' | 'onEnd' | 'run';

/** Where a case unsubscribes: inside the `index`-th call (from 0) of `callback`. */
export interface LeavePoint {
  readonly callback: Callback;
  readonly index: number;
}

export function describeLeavePoint({ callback, index }: LeavePoint): string {
  return callback === 'next' ? `next at emission index ${index}` : `${callback} (call ${index + 1})`;
}

/**
 * Counts the calls of every callback of one run and, at the case's leave point, unsubscribes the consumer
 * synchronously, from inside that call. Every callback that a pipeline hands to the library calls `call()` first.
 */
export class Probe {
  readonly #at: LeavePoint | undefined;
  readonly #onLeave: () => void;
  readonly #calls = new Map<Callback, number>();
  #leave: (() => void) | undefined;
  /** Where the consumer left (or the pipeline, by itself), once it has. */
  leftIn: string | undefined;
  /** What went wrong with the probe itself (a callback that came when nobody could leave yet). */
  readonly problems: string[] = [];
  /** The `signal` of every tool call, to check that leaving aborted the running tools. */
  readonly toolSignals: AbortSignal[] = [];

  /**
   * @param at - where to leave; `undefined` to run to the end (or to let the pipeline leave by itself).
   * @param onLeave - called at the moment of leaving, just before the unsubscribe.
   */
  constructor(at: LeavePoint | undefined, onLeave: () => void) {
    this.#at = at;
    this.#onLeave = onLeave;
  }

  /** How many times `callback` was called. */
  calls(callback: Callback): number {
    return this.#calls.get(callback) ?? 0;
  }

  /** Gives the probe the way to unsubscribe; a leave point reached before this is reported as a problem. */
  attach(leave: () => void): void {
    this.#leave = leave;
  }

  /** Every callback under test calls this first; at the leave point, it unsubscribes from inside the call. */
  call(callback: Callback): void {
    const index = this.calls(callback);
    this.#calls.set(callback, index + 1);
    const at = this.#at;
    if (!at || at.callback !== callback || at.index !== index || this.leftIn !== undefined) return;
    if (!this.#leave) {
      this.problems.push(`${describeLeavePoint(at)} came before the consumer had subscribed`);
      return;
    }
    this.leftIn = describeLeavePoint(at);
    this.#onLeave();
    this.#leave();
  }

  /** For a pipeline whose own operator unsubscribes (`takeWhile`): marks the moment it does. */
  leavingBy(what: string): void {
    if (this.leftIn !== undefined) return;
    this.leftIn = what;
    this.#onLeave();
  }
}

/** How a consumer's subscription ended. */
export type Ending =
  | { readonly how: 'left' }
  | { readonly how: 'complete' }
  | { readonly how: 'error'; readonly error: unknown }
  | { readonly how: 'still running' };

/**
 * Subscribes to `source` with a consumer that the probe can unsubscribe at any moment, even inside a `next` that comes
 * synchronously during `subscribe()`: the consumer is a `Subscriber` that exists before the source is subscribed to
 * (made by subscribing to an Observable that only hands it out), and the source is given that very `Subscriber`.
 * `ending` resolves once the consumer has left or the source has ended; `subscription` ends the run in any case.
 */
export function subscribeLeaving<T>(
  source: Observable<T>,
  probe: Probe,
  isHeartbeat: (value: T) => boolean,
): { readonly ending: Promise<Ending>; readonly subscription: Subscription } {
  let resolve!: (ending: Ending) => void;
  const ending = new Promise<Ending>((settle) => (resolve = settle));
  const handedOut: Subscriber<T>[] = [];
  const subscription = new Observable<T>((subscriber) => {
    handedOut.push(subscriber);
  }).subscribe({
    next(value) {
      probe.call('next');
      if (isHeartbeat(value)) probe.call('heartbeat');
    },
    error: (error: unknown) => resolve({ how: 'error', error }),
    complete: () => resolve({ how: 'complete' }),
  });
  probe.attach(() => {
    subscription.unsubscribe();
    resolve({ how: 'left' });
  });
  // The very Subscriber that `subscription` is: the source delivers to it, and its teardown joins it.
  const consumer = handedOut[0];
  if (!consumer) throw new Error('an Observable hands its Subscriber out as it is subscribed to');
  source.subscribe(consumer);
  return { ending, subscription };
}

const TIMER_TYPES = new Set(['Timeout']);
const SOCKET_TYPES = new Set(['TCPWRAP', 'TCPCONNECTWRAP']);

interface Tracked {
  readonly type: string;
  readonly resource: { hasRef?: () => boolean };
  readonly serverSide: boolean;
  /** Where it was created: the first frame in this project's code, else in a dependency. */
  readonly origin: string;
}

/** The most telling frame of a stack taken in an async hook: ours (lib/, nest-module/), else a dependency's. */
function originOf(stack: string | undefined): string {
  const frames = (stack ?? '')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().replace(/^at /, ''))
    .filter((frame) => !frame.includes('node:') && !frame.includes('/support/leave-inside.'));
  const project = (frame: string) => !frame.includes('/node_modules/') && /\/(lib|nest-module)\//.test(frame);
  const frame = frames.find(project) ?? frames.find((candidate) => !candidate.includes('/rxjs/')) ?? frames[0];
  return (frame ?? 'unknown').replace(/^.*?\/(lib|nest-module|node_modules|spec)\//, '$1/').replace(/\)$/, '');
}

/** The stack of the caller, deep enough to get out of RxJS's schedulers. */
function stackHere(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  try {
    return new Error().stack;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The timers and client sockets created from now on that are still open and keep the process alive, by async id,
 * each named by where it was created. Sockets that a server accepted (the fake server's side of a connection) are not
 * ours; nor is anything unref'd (undici's clock, its idle keep-alive sockets, a forgotten SSE stream's guard timer),
 * nor the timers of this file's own waits (`sleep`).
 */
export interface ResourceTracker {
  timers(): string[];
  sockets(): string[];
  /** Runs `create` without tracking what it creates. */
  untracked<T>(create: () => T): T;
  /** Waits `ms` without the wait's timer being tracked. */
  sleep(ms: number): Promise<void>;
  /** Clears the timers still armed, so that one case's leak does not spill into the next (or keep jest running). */
  clearTimers(): void;
  stop(): void;
}

export function trackResources(): ResourceTracker {
  const live = new Map<number, Tracked>();
  const servers = new Set<number>();
  let ignoring = false;
  const hook = createHook({
    init(asyncId, type, triggerAsyncId, resource: { hasRef?: () => boolean }) {
      if (type === 'TCPSERVERWRAP') servers.add(asyncId);
      if (ignoring || (!TIMER_TYPES.has(type) && !SOCKET_TYPES.has(type))) return;
      const origin = TIMER_TYPES.has(type) ? originOf(stackHere()) : 'a connection';
      live.set(asyncId, { type, resource, serverSide: servers.has(triggerAsyncId), origin });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  }).enable();
  const open = (types: ReadonlySet<string>) =>
    [...live.values()].filter(
      ({ type, resource, serverSide }) => types.has(type) && !serverSide && (resource.hasRef?.() ?? true),
    );
  const untracked = <T>(create: () => T): T => {
    ignoring = true;
    try {
      return create();
    } finally {
      ignoring = false;
    }
  };
  return {
    timers: () => open(TIMER_TYPES).map(({ origin }) => `Timeout from ${origin}`),
    sockets: () => open(SOCKET_TYPES).map(({ type }) => type),
    untracked,
    sleep: (ms) => new Promise((resolve) => untracked(() => setTimeout(resolve, ms))),
    clearTimers() {
      for (const { resource } of open(TIMER_TYPES)) clearInterval(resource as ReturnType<typeof setInterval>);
    },
    stop: () => void hook.disable(),
  };
}

/** Lets the event loop run a few turns (closes and destroy hooks land), then `ms` more. */
export async function settle(tracker: ResourceTracker, ms: number): Promise<void> {
  for (let turn = 0; turn < 3; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  await tracker.sleep(ms);
  for (let turn = 0; turn < 3; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Resolves with `promise`'s outcome, or with `fallback` after `ms`; its timer is neither tracked nor left armed. */
export async function within<T>(tracker: ResourceTracker, promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<T>((resolve) => {
    tracker.untracked(() => (timer = setTimeout(() => resolve(fallback), ms)));
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The requests the fake server has not finished with (neither completed nor closed by the client), described. */
export async function requestsStillOpen(
  tracker: ResourceTracker,
  requests: readonly RecordedRequest[],
  ms: number,
): Promise<string[]> {
  await within(tracker, Promise.all(requests.map((request) => request.closed)), ms, []);
  return requests
    .filter((request) => !request.completed && !request.closedByClient)
    .map((request) => `request ${request.index} still open after ${ms} ms (${request.eventsWritten} events written)`);
}

/** Everything that reports an error nobody handled: RxJS's `onUnhandledError`, unhandled rejections, warnings. */
export function watchUnhandled(): { readonly found: () => string[]; stop(): void } {
  const errors: unknown[] = [];
  const previous = config.onUnhandledError;
  config.onUnhandledError = (error: unknown) => errors.push(error);
  const process = watchProcess();
  const show = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  return {
    found: () => [
      ...errors.map((error) => `rxjs onUnhandledError: ${show(error)}`),
      ...process.rejections.map((reason) => `unhandled rejection: ${show(reason)}`),
      ...process.warnings.map((warning) => `process warning: ${warning}`),
    ],
    stop() {
      config.onUnhandledError = previous;
      process.stop();
    },
  };
}

/** What a case checks after the consumer left; `expect(...).toEqual(CLEAN)` shows every finding at once. */
export interface Findings {
  /** How the consumer's subscription ended: `left` when it unsubscribed at the leave point. */
  readonly ending: string;
  readonly probeProblems: readonly string[];
  /** Upstream requests that neither completed nor were aborted by the client. */
  readonly openRequests: readonly string[];
  /** Our timers (ref'd `Timeout`s created during the case) still armed once the consumer left and the loop settled. */
  readonly timersLeft: readonly string[];
  /** Our sockets (client side, ref'd) still open once the consumer left and the loop settled. */
  readonly socketsLeft: readonly string[];
  /** Requests that reached the fake server after the consumer left. */
  readonly requestsAfterLeaving: readonly string[];
  /** Tool calls whose `signal` was not aborted though the consumer left while they ran. */
  readonly toolSignalsNotAborted: number;
  readonly unhandled: readonly string[];
}

export const CLEAN: Findings = {
  ending: 'left',
  probeProblems: [],
  openRequests: [],
  timersLeft: [],
  socketsLeft: [],
  requestsAfterLeaving: [],
  toolSignalsNotAborted: 0,
  unhandled: [],
};

export function describeEnding(ending: Ending): string {
  if (ending.how !== 'error') return ending.how;
  const { error } = ending;
  return `error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
}

/** The requests after the first `count`, as the fake server saw them. */
export function requestsAfter(server: FakeClaudeServer, count: number, leftAt: number): string[] {
  return server.requests
    .slice(count)
    .map((request) => `request ${request.index}, ${Math.round(request.receivedAt - leftAt)} ms after leaving`);
}

export const now = (): number => performance.now();
