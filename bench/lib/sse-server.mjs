// Child process: an SSE server relaying the upstream to browsers, alone here so that its CPU is measured alone.
//
// argv[2] is JSON: { kind: 'nest' | 'nest-raw' | 'relay' | 'rx', upstream, bare }. `bare` turns the module's retry,
// timeout and heartbeat off (nest: `forRoot({ retry: false, timeout: false, sse: { heartbeatMs: false } })`; rx: the
// same operators left out), as in issue 18's report of the fast case.
// - nest: a NestJS app (Express) whose `@Sse()` route returns `ClaudeStreamService.sse()`, module defaults on.
// - nest-raw: the same app, but the route returns the SDK's raw stream as `MessageEvent`s (written by hand, ids and a
//   `done` as claude-rx writes them): Nest's part alone, what the framework costs without claude-rx.
// - relay: node:http and the SDK's raw stream, each event written as an SSE frame: what one would write by hand.
// - rx: node:http and claude-rx without Nest, as the service pipes it by default (`claudeStream`,
//   `timeoutBetweenChunks`, `retryOnRateLimit`, `toSse()`), each MessageEvent written as an SSE frame: splits the
//   NestJS figure into claude-rx's part and the framework's.
// Both answer GET /chat/stream?model=... with every stream event (`event:`, `id:`, `data:`), then a `done` event.
//
// IPC (the parent asks, this answers with the same type): `cpu-start`, `cpu-stop` (CPU used since `cpu-start`),
// `memory` (after two full GCs: run with --expose-gc), `snapshot` (a heap snapshot into `file`, for profiling by
// hand; the suites never ask), `close`.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import Anthropic from '@anthropic-ai/sdk';
import { dist } from './paths.mjs';

const { kind, upstream, bare = false } = JSON.parse(process.argv[2]);
const MAX_TOKENS = 1024;
const HOST = '127.0.0.1';

/** The MessageEvents of the SDK's raw stream, as one would write them by hand for `@Sse()`: Nest's part alone. */
function sdkMessageEvents(client, Observable, model, signal) {
  return new Observable((subscriber) => {
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal.addEventListener('abort', abort, { once: true });
    (async () => {
      const stream = await client.messages.create(
        { model, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'Go' }], stream: true },
        { signal: controller.signal },
      );
      let id = 0;
      for await (const event of stream)
        subscriber.next({ type: event.type, id: String(++id), data: JSON.stringify(event) });
      subscriber.next({ type: 'done', id: String(id + 1), data: '{}' });
      subscriber.complete();
    })().catch((error) => subscriber.error(error));
    return () => {
      signal.removeEventListener('abort', abort);
      controller.abort();
    };
  });
}

async function startNest(raw = false) {
  await import('reflect-metadata');
  const { Controller, Module, Query, Sse, SseSignal } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { Observable } = await import('rxjs');
  const { ClaudeStreamModule, ClaudeStreamService } = await import(dist('nest-module/index.js'));
  const sdk = new Anthropic({ apiKey: 'bench', baseURL: upstream, maxRetries: 0 });

  class ChatController {
    constructor(claude) {
      this.claude = claude;
    }

    /** As the docs have it: `@Sse('stream') stream(@Query('model') model, @SseSignal() signal)`. */
    stream(model, signal) {
      if (raw) return sdkMessageEvents(sdk, Observable, model, signal);
      return this.claude.sse({ model, messages: [{ role: 'user', content: 'Go' }] }, { signal });
    }
  }
  // Plain .mjs has no decorator syntax: the decorators are applied by hand, as TypeScript would.
  Reflect.defineMetadata('design:paramtypes', [ClaudeStreamService], ChatController);
  Query('model')(ChatController.prototype, 'stream', 0);
  SseSignal()(ChatController.prototype, 'stream', 1);
  Sse('stream')(
    ChatController.prototype,
    'stream',
    Object.getOwnPropertyDescriptor(ChatController.prototype, 'stream'),
  );
  Controller('chat')(ChatController);

  class AppModule {}
  Module({
    imports: [
      ClaudeStreamModule.forRoot({
        apiKey: 'bench',
        baseURL: upstream,
        clientOptions: { maxRetries: 0 },
        defaults: { max_tokens: MAX_TOKENS },
        ...(bare && { retry: false, timeout: false, sse: { heartbeatMs: false } }),
      }),
    ],
    controllers: [ChatController],
  })(AppModule);

  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, HOST);
  return { port: app.getHttpServer().address().port, close: () => app.close() };
}

/** A node:http server answering GET /chat/stream?model=... with what `handle(body, signal, res)` writes. */
async function serveHttp(handle) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, `http://${HOST}`);
    if (url.pathname !== '/chat/stream') {
      res.writeHead(404).end();
      return;
    }
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    const body = {
      model: url.searchParams.get('model'),
      max_tokens: MAX_TOKENS,
      messages: [{ role: 'user', content: 'Go' }],
    };
    await handle(body, controller.signal, res);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return {
    port: server.address().port,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };

function startRelay() {
  const client = new Anthropic({ apiKey: 'bench', baseURL: upstream, maxRetries: 0 });
  return serveHttp(async (body, signal, res) => {
    let stream;
    try {
      stream = await client.messages.create({ ...body, stream: true }, { signal });
    } catch {
      if (!res.headersSent) res.writeHead(502).end();
      return;
    }
    res.writeHead(200, SSE_HEADERS);
    let id = 0;
    try {
      for await (const event of stream)
        res.write(`event: ${event.type}\nid: ${++id}\ndata: ${JSON.stringify(event)}\n\n`);
      res.end(`event: done\nid: ${++id}\ndata: {}\n\n`);
    } catch {
      res.destroy();
    }
  });
}

async function startRx() {
  const { claudeStream, retryOnRateLimit, timeoutBetweenChunks } = await import(dist('lib/index.js'));
  const { toSse } = await import(dist('nest-module/index.js'));
  const client = new Anthropic({ apiKey: 'bench', baseURL: upstream, maxRetries: 0 });
  // ClaudeStreamModule's defaults.
  const timeout = bare ? (source) => source : timeoutBetweenChunks({ first: 60_000, each: 30_000 });
  const retry = bare ? (source) => source : retryOnRateLimit({ maxRetries: 2, maxDelayMs: 10_000 });
  const sse = toSse(bare ? { heartbeatMs: false } : {});
  return serveHttp((body, signal, res) => {
    res.writeHead(200, SSE_HEADERS);
    const subscription = claudeStream(client, body)
      .pipe(timeout, retry, sse)
      .subscribe({
        next: (message) =>
          res.write(
            message.comment === undefined
              ? `event: ${message.type}\nid: ${message.id}\ndata: ${message.data}\n\n`
              : `: ${message.comment}\n\n`,
          ),
        complete: () => res.end(),
      });
    signal.addEventListener('abort', () => subscription.unsubscribe(), { once: true });
  });
}

const starters = { nest: () => startNest(), 'nest-raw': () => startNest(true), relay: startRelay, rx: startRx };
const app = await starters[kind]();
let cpu0;
let wall0;
process.on('message', async (message) => {
  switch (message?.type) {
    case 'cpu-start':
      cpu0 = process.cpuUsage();
      wall0 = performance.now();
      process.send({ type: 'cpu-start' });
      break;
    case 'cpu-stop': {
      const cpu = process.cpuUsage(cpu0);
      process.send({ type: 'cpu-stop', cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wall0 });
      break;
    }
    case 'memory':
      for (let i = 0; i < 2; i++) globalThis.gc?.();
      process.send({ type: 'memory', ...process.memoryUsage() });
      break;
    case 'snapshot': {
      // While profiling: a heap snapshot (bench/lib/sse-server.mjs is not run with it by the suites).
      const { writeHeapSnapshot } = await import('node:v8');
      process.send({ type: 'snapshot', file: writeHeapSnapshot(message.file) });
      break;
    }
    case 'close':
      await app.close();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', port: app.port });
