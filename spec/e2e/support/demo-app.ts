import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import type { INestApplication } from '@nestjs/common';
import { FakeClaudeServer } from 'claude-rx/testing';
import { createDemoApp } from '../../../samples/nest-app/main.js';
import { scriptFakeClaude } from '../../../samples/nest-app/fake-claude.js';

/** The `npm start` demo, in-process on a free port, answering from a scripted fake Claude server. */
export interface RunningDemo {
  readonly app: INestApplication;
  readonly url: string;
  readonly fake: FakeClaudeServer;
  close(): Promise<void>;
}

/**
 * Bundles the page's script (`page.ts`, as `npm run build` does) into a folder of its own: not into dist/, which the
 * packaging test rebuilds meanwhile.
 */
function bundlePage(): { file: string; remove(): void } {
  const folder = mkdtempSync(join(tmpdir(), 'claude-rx-demo-page-'));
  const file = join(folder, 'page.js');
  execFileSync(process.execPath, ['scripts/build.mjs', '--page-only', file], { stdio: 'inherit' });
  return { file, remove: () => rmSync(folder, { recursive: true, force: true }) };
}

export async function startDemo({ delayMs }: { readonly delayMs: number }): Promise<RunningDemo> {
  const page = bundlePage();
  const fake = await FakeClaudeServer.start();
  scriptFakeClaude(fake, { delayMs });
  const client = new Anthropic({ apiKey: 'test-key', baseURL: fake.url, maxRetries: 0 });
  // The page's files are read at start-up: the bundle's folder can go at once.
  const app = await createDemoApp({ client, mode: 'fake', pageScript: page.file }, { logger: false }).finally(() =>
    page.remove(),
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    fake,
    close: async () => {
      await app.close();
      await fake.close();
    },
  };
}

/** One SSE event as the page's parser sees it. */
export interface ReadEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: string;
}

/** POSTs a chat and reads the whole SSE body with eventsource-parser. */
export async function postChat(
  url: string,
  body: unknown,
): Promise<{ status: number; json?: unknown; events: ReadEvent[] }> {
  const { createParser } = await import('eventsource-parser');
  const response = await fetch(`${url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
  });
  if (!response.ok) return { status: response.status, json: await response.json(), events: [] };
  const events: ReadEvent[] = [];
  const parser = createParser({ onEvent: (e) => events.push({ event: e.event ?? 'message', id: e.id, data: e.data }) });
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
  }
  return { status: response.status, events };
}
