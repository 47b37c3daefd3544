import { setTimeout as sleep } from 'node:timers/promises';
import type { Observable, Subscription } from 'rxjs';
import type { ClaudeClientEvent } from 'claude-rx/client';
import type { ClaudeStreamModuleOptions } from 'claude-rx/nest';
import type { FakeClaudeServer, RecordedRequest } from 'claude-rx/testing';
import { API_KEY, MODEL } from '../../nest-module/support/fixtures.js';
import { OWNER_HEADER } from '../../nest-module/support/resumable-app.js';

/** The module options of these specs: the fake upstream, no retries, no heartbeat; `resume` as the test says. */
export function moduleOptions(server: FakeClaudeServer, overrides: ClaudeStreamModuleOptions = {}) {
  return {
    apiKey: API_KEY,
    baseURL: server.url,
    clientOptions: { maxRetries: 0 },
    defaults: { model: MODEL, max_tokens: 64 },
    retry: false,
    sse: { heartbeatMs: false },
    ...overrides,
  } satisfies ClaudeStreamModuleOptions;
}

export const as = (owner: string): Record<string, string> => ({ [OWNER_HEADER]: owner });

/** One request the client sent, as it left `fetch`. */
export interface SentRequest {
  readonly url: string;
  readonly method: string;
  readonly lastEventId: string | null;
}

/**
 * The real `fetch`, with every request the client sends written down (and, when `rewrite` says so, its
 * `Last-Event-ID` changed before it goes). Not a mock: the request still goes over the network to the real app.
 */
export function recordingFetch(sent: SentRequest[], rewrite?: (lastEventId: string) => string): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    const lastEventId = headers.get('last-event-id');
    if (lastEventId !== null && rewrite) headers.set('last-event-id', rewrite(lastEventId));
    sent.push({
      url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      method: init?.method ?? 'GET',
      lastEventId: headers.get('last-event-id'),
    });
    return fetch(input, { ...init, headers });
  };
}

/** What a subscriber of `claudeSse` saw: every event, and how the Observable ended. */
export interface Collected {
  readonly events: ClaudeClientEvent[];
  /** Resolves with `{ complete: true }` or `{ error }` when the Observable ends; never rejects. */
  readonly ended: Promise<{ readonly complete: true } | { readonly error: unknown }>;
  readonly subscription: Subscription;
  /** Set once the Observable ended. */
  outcome: { readonly complete: true } | { readonly error: unknown } | undefined;
}

/** Subscribes, calling `onNext` after each event is recorded (it may unsubscribe, or cut the connection). */
export function collect(
  source: Observable<ClaudeClientEvent>,
  onNext?: (event: ClaudeClientEvent, events: readonly ClaudeClientEvent[]) => void,
): Collected {
  const events: ClaudeClientEvent[] = [];
  let settle!: (outcome: { readonly complete: true } | { readonly error: unknown }) => void;
  const ended = new Promise<{ readonly complete: true } | { readonly error: unknown }>((resolve) => (settle = resolve));
  const collected: Collected = { events, ended, subscription: undefined as never, outcome: undefined };
  const end = (outcome: { readonly complete: true } | { readonly error: unknown }) => {
    collected.outcome = outcome;
    settle(outcome);
  };
  (collected as { subscription: Subscription }).subscription = source.subscribe({
    next: (event) => {
      events.push(event);
      onNext?.(event, events);
    },
    error: (error: unknown) => end({ error }),
    complete: () => end({ complete: true }),
  });
  return collected;
}

/** The error the Observable ended with; fails the test if it completed. */
export async function errorOf(collected: Collected, ms = 10_000): Promise<unknown> {
  const outcome = await within(collected.ended, ms, 'the Observable to end');
  if (!('error' in outcome)) throw new Error('expected an error, the Observable completed');
  return outcome.error;
}

/** Waits until the Observable completed; fails the test (with the error) if it errored. */
export async function completion(collected: Collected, ms = 10_000): Promise<void> {
  const outcome = await within(collected.ended, ms, 'the Observable to end');
  if ('error' in outcome) throw outcome.error;
}

/** Resolves when `promise` does, or rejects after `ms` naming `what`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Polls `condition` until it holds, or fails after `ms` naming `what`. */
export async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

/** The text of the `text_delta`s among the events. */
export function textOf(events: readonly ClaudeClientEvent[]): string {
  return events
    .map((event) => (event.type === 'content_block_delta' && event.delta.type === 'text_delta' ? event.delta.text : ''))
    .join('');
}

export function countOf(events: readonly ClaudeClientEvent[], type: ClaudeClientEvent['type']): number {
  return events.filter((event) => event.type === type).length;
}

/** Waits for the upstream request to end and asserts that it completed, never aborted. */
export async function expectCompleted(request: RecordedRequest | undefined): Promise<void> {
  await within(request!.closed, 5_000, 'the upstream request to end');
  expect(request).toMatchObject({ completed: true, closedByClient: false });
}

/** A URL on which nothing listens (a port just released). */
export async function closedPortUrl(): Promise<string> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
