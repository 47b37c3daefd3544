import 'reflect-metadata';
import { Controller, Module, Query, Sse, type INestApplication, type MessageEvent } from '@nestjs/common';
import { ApplicationConfig, NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import type { Observable } from 'rxjs';
import { ClaudeStreamModule, ClaudeStreamService, ClaudeUpstreamExceptionFilter } from 'claude-rx/nest';
import { errorReply, FakeClaudeServer } from 'claude-rx/testing';
import { API_KEY, MODEL } from './support/fixtures.js';

// The exception filter that adds Retry-After: registered once per application however many forRoot calls there are,
// and left out on request.

let server: FakeClaudeServer;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
});
afterEach(() => server.reset());
afterAll(() => server.close());

@Controller('a')
class AController {
  constructor(private readonly claude: ClaudeStreamService) {}
  @Sse()
  stream(@Query('q') q: string): Promise<Observable<MessageEvent>> {
    return this.claude.sse({ messages: [{ role: 'user', content: q }] });
  }
}

const forRoot = (extras: { exceptionFilter?: boolean } = {}) =>
  ClaudeStreamModule.forRoot({
    apiKey: API_KEY,
    baseURL: server.url,
    clientOptions: { maxRetries: 0 },
    defaults: { model: MODEL, max_tokens: 64 },
    retry: false,
    ...extras,
  });

async function start(root: object): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create(root as never, { logger: false, forceCloseConnections: true });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

function claudeFilters(app: INestApplication): unknown[] {
  return app
    .get(ApplicationConfig)
    .getGlobalFilters()
    .filter((filter) => filter instanceof ClaudeUpstreamExceptionFilter);
}

describe('ClaudeUpstreamExceptionFilter', () => {
  it('is registered once for two forRoot calls, and a 429 still carries Retry-After', async () => {
    @Module({ imports: [forRoot()], controllers: [AController] })
    class FeatureA {}
    @Module({ imports: [forRoot()] })
    class FeatureB {}
    @Module({ imports: [FeatureA, FeatureB] })
    class AppModule {}
    const { app, url } = await start(AppModule);
    try {
      expect(claudeFilters(app)).toHaveLength(1);
      server.enqueue(errorReply(429, { retryAfterSeconds: 7 }));
      const response = await fetch(`${url}/a?q=hi`);
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('7');
    } finally {
      await app.close();
    }
  });

  it('is left out with exceptionFilter: false (the 429 stays, without Retry-After)', async () => {
    @Module({ imports: [forRoot({ exceptionFilter: false })], controllers: [AController] })
    class AppModule {}
    const { app, url } = await start(AppModule);
    try {
      expect(claudeFilters(app)).toHaveLength(0);
      server.enqueue(errorReply(429, { retryAfterSeconds: 7 }));
      const response = await fetch(`${url}/a?q=hi`);
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBeNull();
    } finally {
      await app.close();
    }
  });
});
