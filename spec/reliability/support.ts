import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Module, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { createServer } from 'node:http';
import { createHook } from 'node:async_hooks';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import vm from 'node:vm';
import { pipe } from 'rxjs';
import { retryOnRateLimit, timeoutBetweenChunks, type ClaudeRxEvent } from 'claude-rx';
import { ClaudeStreamModule, type ClaudeStreamModuleOptions } from 'claude-rx/nest';
import { ChatController } from '../nest-module/support/nest-app.js';
import { TEST_API_KEY, sleep } from '../support/harness.js';

/** The default operator stack of the fault matrix and the soak, with limits small enough for tests. */
export const LIMITS = { first: 500, each: 500 } as const;
export const RETRY = { maxRetries: 1, baseDelayMs: 20, maxDelayMs: 2_000 } as const;

/** `timeoutBetweenChunks` then `retryOnRateLimit`, as `ClaudeStreamService.stream()` composes them. */
export const defaultStack = () => pipe(timeoutBetweenChunks<ClaudeRxEvent>(LIMITS), retryOnRateLimit(RETRY));

/** A second secret, sent as an `x-api-key` header next to the SDK's `authorization: Bearer <TEST_API_KEY>`. */
export const HEADER_SECRET = `sk-ant-header-${Math.random().toString(36).slice(2)}-secret`;
export const SECRETS = [TEST_API_KEY, HEADER_SECRET] as const;

export const MODEL = 'claude-reliability-model';

/** Node's own `process` (jest hands tests a copy, whose listeners hear neither warnings nor rejections). */
export const realProcess = vm.runInThisContext('process') as NodeJS.Process;

/** Collects the warnings and unhandled rejections of the real process until `stop()`. */
export function watchProcess(): { warnings: string[]; rejections: unknown[]; stop(): void } {
  // Kept as text: the warnings are Errors of Node's realm, which jest's equality cannot walk.
  const warnings: string[] = [];
  const rejections: unknown[] = [];
  // Node says once per process that VM modules are experimental: that one is jest's, not ours.
  const onWarning = (warning: Error) => {
    if (warning.name !== 'ExperimentalWarning') warnings.push(`${warning.name}: ${warning.message}`);
  };
  const onRejection = (reason: unknown) => rejections.push(reason);
  realProcess.on('warning', onWarning);
  realProcess.on('unhandledRejection', onRejection);
  return {
    warnings,
    rejections,
    stop() {
      realProcess.off('warning', onWarning);
      realProcess.off('unhandledRejection', onRejection);
    },
  };
}

const WATCHED = new Set(['TCPSocketWrap', 'TCPServerWrap', 'Timeout']);

/** The open sockets, servers and timers of the process, by kind. */
export function openResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (WATCHED.has(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

function moreThan(now: Record<string, number>, baseline: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(now).filter(([kind, count]) => count > (baseline[kind] ?? 0)));
}

/**
 * Fails unless, within `withinMs` (sockets take an I/O turn or two to close), no more sockets, servers or timers
 * are open than in `baseline`. Shorter than the stack's limits, so that a timer left armed cannot expire meanwhile.
 */
export async function expectResourcesBackTo(baseline: Record<string, number>, withinMs = 200): Promise<void> {
  const deadline = performance.now() + withinMs;
  let extra = moreThan(openResources(), baseline);
  while (Object.keys(extra).length > 0 && performance.now() < deadline) {
    await sleep(20);
    extra = moreThan(openResources(), baseline);
  }
  expect(extra).toEqual({});
}

const TRACKED_TYPES = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP', 'TCPCONNECTWRAP']);

/**
 * Tracks the timers, sockets and servers created from now on, by async id, until they are destroyed: unlike a count
 * of what is open, a leak cannot hide behind an unrelated timer that happens to end meanwhile. Like
 * `--detectOpenHandles`, it ignores what is unref'd (undici's clock, a forgotten SSE stream's guard timer): those do
 * not keep a process alive.
 */
export function trackNewResources(): { stillOpen(withinMs?: number): Promise<string[]>; stop(): void } {
  const live = new Map<number, { type: string; resource: { hasRef?: () => boolean } }>();
  // The run is over once someone asks: from then on, the timers of the wait itself are not tracked.
  let looking = false;
  const hook = createHook({
    init(asyncId, type, _trigger, resource: { hasRef?: () => boolean }) {
      if (!looking && TRACKED_TYPES.has(type)) live.set(asyncId, { type, resource });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  }).enable();
  const open = () => [...live.values()].filter(({ resource }) => resource.hasRef?.() ?? true).map(({ type }) => type);
  return {
    async stillOpen(withinMs = 200) {
      looking = true;
      const deadline = performance.now() + withinMs;
      while (open().length > 0 && performance.now() < deadline) await sleep(20);
      return open().sort();
    },
    stop: () => void hook.disable(),
  };
}

/** Everything a program could print of an error: message, `String()`, JSON, stack and `inspect`, causes included. */
export function errorOutputs(error: unknown): string[] {
  const outputs: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- String(error) is what programs print
    outputs.push(String(current), inspect(current, { depth: 8, showHidden: true }));
    try {
      outputs.push(JSON.stringify(current) ?? '');
    } catch (thrown) {
      outputs.push(`JSON.stringify threw ${String(thrown)}`);
    }
    if (current instanceof Error) outputs.push(current.message, current.stack ?? '');
    current = current instanceof Error ? current.cause : undefined;
  }
  return outputs;
}

/** The outputs that contain a secret (an empty list is what a test expects). */
export function leaks(outputs: readonly string[]): string[] {
  return outputs.filter((output) => SECRETS.some((secret) => output.includes(secret)));
}

/** A Nest logger that keeps every line, as a log file would. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  private keep(level: string, args: unknown[]) {
    this.lines.push(
      `${level} ${args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg, { depth: 8 }))).join(' ')}`,
    );
  }
  log(...args: unknown[]) {
    this.keep('log', args);
  }
  error(...args: unknown[]) {
    this.keep('error', args);
  }
  warn(...args: unknown[]) {
    this.keep('warn', args);
  }
  debug(...args: unknown[]) {
    this.keep('debug', args);
  }
  verbose(...args: unknown[]) {
    this.keep('verbose', args);
  }
  fatal(...args: unknown[]) {
    this.keep('fatal', args);
  }
}

/** Captures (and silences) every `console` line until `restore()`: the SDK logs there. */
export function captureConsole(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const spies = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((method) =>
    jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(
        `${method} ${args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg, { depth: 8 }))).join(' ')}`,
      );
    }),
  );
  return { lines, restore: () => spies.forEach((spy) => spy.mockRestore()) };
}

/** A Nest app with `ClaudeStreamModule` (the default stack's limits) and the `/chat/stream` SSE route, on 127.0.0.1. */
export interface NestApp {
  readonly app: INestApplication;
  readonly url: string;
  readonly logger: CapturingLogger;
}

export async function startNestApp(baseURL: string, overrides: ClaudeStreamModuleOptions = {}): Promise<NestApp> {
  const options: ClaudeStreamModuleOptions = {
    apiKey: TEST_API_KEY,
    baseURL,
    clientOptions: { maxRetries: 0, defaultHeaders: { 'x-api-key': HEADER_SECRET } },
    defaults: { model: MODEL, max_tokens: 64 },
    retry: RETRY,
    timeout: LIMITS,
    sse: { heartbeatMs: 50 },
    ...overrides,
  };
  @Module({ imports: [ClaudeStreamModule.forRoot(options)], controllers: [ChatController] })
  class ReliabilityModule {}

  const logger = new CapturingLogger();
  const app = await NestFactory.create(ReliabilityModule, new ExpressAdapter(), {
    logger,
    forceCloseConnections: true,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, logger };
}

/** The URL of a port that nothing listens on: a server's, once it has closed. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return `http://127.0.0.1:${port}`;
}

/** A deterministic PRNG (mulberry32), so that a soak's random choices can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
