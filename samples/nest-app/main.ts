/**
 * The `npm start` demo: a NestJS app serving one web page at http://localhost:3000 (`PORT`, `HOST`) that streams
 * Claude's answer through `ClaudeStreamService.sseRunTools()`, resumable: thinking in its own panel, the text, a tool
 * call with its input as it streams and its result, token usage, a Stop button that stops the stream on the server
 * (the upstream request is aborted at once), "reconnecting…" and the rest of the answer after a dropped connection,
 * and errors in words. The page's script (`page.ts`) reads the stream with `claude-rx/client`. With
 * `ANTHROPIC_API_KEY` it talks to the Claude API (model `CLAUDE_MODEL`); without, to the fake Claude server of
 * `claude-rx/testing`, started in-process and scripted (ask about the weather for the tool call; say "overload" to see
 * the error path).
 *
 * Run: `npm start`, or `node dist/samples/nest-app/main.js` after `npm run build` (which also bundles `page.ts`).
 */
import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint } from '../support/demo-client.js';
import { DemoAppModule, type DemoAppOptions } from './app.module.js';
import { scriptFakeClaude } from './fake-claude.js';

/** Creates the demo app (not listening yet), e.g. to `listen(0)` in a test with a client for a fake server. */
export async function createDemoApp(
  options: DemoAppOptions,
  { logger = true }: { readonly logger?: boolean } = {},
): Promise<INestApplication> {
  const app = await NestFactory.create(DemoAppModule.forRoot(options), {
    logger: logger ? ['log', 'warn', 'error'] : false,
    // Open SSE responses must not hold app.close() until their clients' keep-alive ends.
    forceCloseConnections: true,
  });
  app.enableShutdownHooks();
  return app;
}

/** Starts the demo as `npm start` does: the real API with a key, else the scripted fake server in this process. */
async function start(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 3000);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const apiKey = process.env['ANTHROPIC_API_KEY'];
  let fake: FakeClaudeServer | undefined;
  let options: DemoAppOptions;
  if (apiKey) {
    // Rate limits and overloads are left to the module's retryOnRateLimit, not the SDK's own retries.
    options = { client: new Anthropic({ apiKey, maxRetries: 0 }), mode: 'api' };
  } else {
    fake = await FakeClaudeServer.start();
    scriptFakeClaude(fake);
    options = { client: new Anthropic({ apiKey: 'demo-key', baseURL: fake.url, maxRetries: 0 }), mode: 'fake' };
  }
  const app = await createDemoApp(options);
  if (fake) {
    const server = fake;
    (app.getHttpServer() as Server).once('close', () => void server.close());
  }
  await app.listen(port, host);
  const shown = host === '127.0.0.1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  console.log(
    apiKey
      ? `[claude-rx demo] Using the Claude API (model ${process.env['CLAUDE_MODEL'] ?? 'claude-sonnet-5-5'}).`
      : '[claude-rx demo] ANTHROPIC_API_KEY is not set: answers come from the built-in fake Claude server (offline, scripted).\n' +
          '                 Ask about the weather for a tool call; include "overload" to see an error.',
  );
  const { port: listening } = (app.getHttpServer() as Server).address() as AddressInfo;
  console.log(`[claude-rx demo] Open http://${shown}:${String(listening)} (Ctrl-C to stop)`);
}

if (isEntryPoint(import.meta)) await start();
