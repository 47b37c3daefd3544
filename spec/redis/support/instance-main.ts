// One instance of a NestJS app with resumable streams on Redis, run in a process of its own by the multi-instance
// specs (compiled by `build-instance.ts`; relative imports, so that it runs from the compiled tree). It reads its
// settings from the environment, prints `{"port":N}` once it listens, closes the app on SIGTERM (a deploy's
// rolling restart) and dies on SIGKILL (a crash).
import 'reflect-metadata';
import {
  Body,
  Controller,
  Headers,
  HttpCode,
  Module,
  Post,
  Query,
  RequestMethod,
  Sse,
  SseSignal,
  type MessageEvent,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import type { Observable } from 'rxjs';
import { ClaudeStreamModule, ClaudeStreamService, LastEventId } from '../../../nest-module/index.js';
import { RedisStreamStore } from '../../../lib/redis/index.js';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`instance-main: ${name} is not set`);
  return value;
};

@Controller('chat')
class ChatController {
  constructor(private readonly claude: ClaudeStreamService) {}

  @Sse('stream')
  stream(
    @Query('q') q: string,
    @Query('model') model: string | undefined,
    @LastEventId() lastEventId: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.claude.sse(
      { messages: [{ role: 'user', content: q }], ...(model ? { model } : {}) },
      { lastEventId, signal },
    );
  }

  @Sse('resume', { method: RequestMethod.POST })
  @HttpCode(200)
  resume(
    @Headers('last-event-id') lastEventId: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.claude.resume(lastEventId ?? '', { signal });
  }

  @Post('stop')
  @HttpCode(200)
  async stop(@Body() body: { id: string }): Promise<{ stopped: boolean }> {
    return { stopped: await this.claude.stop(body.id) };
  }
}

// The store listens to this client's errors and warns once; nothing else is printed while Redis is down.
const redis = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: 1 });
const store = new RedisStreamStore(redis, {
  onWarning: (message) => process.stderr.write(`${JSON.stringify({ warning: message })}\n`),
});

@Module({
  imports: [
    ClaudeStreamModule.forRoot({
      apiKey: 'sk-ant-instance-test',
      baseURL: env('CLAUDE_BASE_URL'),
      clientOptions: { maxRetries: 0 },
      defaults: { model: env('CLAUDE_MODEL', 'claude-test-model'), max_tokens: 64 },
      retry: { maxRetries: 0, maxDelayMs: 5_000 },
      sse: { heartbeatMs: false },
      store,
      resume: { graceMs: Number(env('GRACE_MS', '3000')), drainMs: Number(env('DRAIN_MS', '5000')) },
    }),
  ],
  controllers: [ChatController],
})
class InstanceModule {}

const app = await NestFactory.create(InstanceModule, { logger: ['error', 'warn'], forceCloseConnections: true });
await app.listen(Number(env('PORT', '0')), '127.0.0.1');
process.stdout.write(`${JSON.stringify({ port: (app.getHttpServer().address() as AddressInfo).port })}\n`);
process.once('SIGTERM', () => {
  // A deploy: Nest's shutdown (readers let go at once, producers drained), then the store and Redis.
  void app
    .close()
    .then(() => store.close())
    .finally(() => {
      redis.disconnect();
      process.exit(0);
    });
});
