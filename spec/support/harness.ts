import Anthropic from '@anthropic-ai/sdk';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { FakeClaudeServer } from 'claude-rx/testing';

/** A fake Claude server and a real SDK client pointed at it, for one spec file. */
export interface Harness {
  server: FakeClaudeServer;
  client: Anthropic;
}

/** The API key the test clients send: unique, so that a test can search every output byte for it. */
export const TEST_API_KEY = `sk-ant-test-${Math.random().toString(36).slice(2)}-secret`;

/**
 * Starts a fake server before all tests of a file and closes it after; resets its script between tests.
 * The client has the SDK's own retries off, so that each scripted reply answers exactly one request.
 */
export function useFakeClaude(): Harness {
  const harness = {} as Harness;
  beforeAll(async () => {
    harness.server = await FakeClaudeServer.start();
    harness.client = new Anthropic({ apiKey: TEST_API_KEY, baseURL: harness.server.url, maxRetries: 0 });
  });
  afterEach(() => harness.server.reset());
  afterAll(async () => harness.server.close());
  return harness;
}

/** Collects every unhandled rejection while a spec file runs; `expect(...).toEqual([])` it after each test. */
export function trackUnhandledRejections(): unknown[] {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  beforeAll(() => process.on('unhandledRejection', onRejection));
  afterAll(() => process.off('unhandledRejection', onRejection));
  return seen;
}

/** All values of an Observable, once it completes. */
export function collect<T>(source: Observable<T>): Promise<T[]> {
  return lastValueFrom(source.pipe(toArray()));
}

/** The error an Observable ends with; fails if it completes instead. */
export function errorOf(source: Observable<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    source.subscribe({ error: resolve, complete: () => reject(new Error('expected an error, but it completed')) });
  });
}

/** Waits a little, for a server to notice something. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The request body most tests send. */
export const PARAMS = {
  model: 'claude-sonnet-5-5',
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: 'Hello' }],
};

/** The folder of the spec file at `url` (`import.meta.url`): jest 29's ESM `import.meta` has no `dirname`. */
export function folderOf(url: string): string {
  return dirname(fileURLToPath(url));
}
