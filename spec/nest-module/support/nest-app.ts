import 'reflect-metadata';
import {
  Body,
  Controller,
  HttpCode,
  Module,
  Query,
  RequestMethod,
  Sse,
  SseSignal,
  type INestApplication,
  type MessageEvent,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import type { Observable } from 'rxjs';
import {
  ClaudeStreamModule,
  ClaudeStreamService,
  ClientAbortSignal,
  LastEventId,
  type ClaudeStreamModuleOptions,
} from 'claude-rx/nest';

export type AdapterName = 'express' | 'fastify';

/** The routes of the issue: GET for EventSource, POST with the prompt in the body, and the bare snippet. */
@Controller('chat')
export class ChatController {
  constructor(private readonly claude: ClaudeStreamService) {}

  @Sse('stream')
  async stream(
    @Query('q') q: string,
    @LastEventId() lastEventId: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.claude.sse({ messages: [{ role: 'user', content: q }] }, { lastEventId, signal });
  }

  @Sse('stream', { method: RequestMethod.POST })
  @HttpCode(200)
  async post(
    @Body() body: { q: string; events?: string[] },
    @ClientAbortSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.claude.sse(
      { messages: [{ role: 'user', content: body.q }] },
      { signal, ...(body.events ? { events: body.events as never } : {}) },
    );
  }

  /** Exactly the snippet: no signal. */
  @Sse('plain')
  plain(@Query('q') q: string): Promise<Observable<MessageEvent>> {
    return this.claude.sse({ messages: [{ role: 'user', content: q }] });
  }
}

/** An application with `ClaudeStreamModule.forRoot(options)` and `ChatController`, listening on 127.0.0.1. */
export interface TestApp {
  readonly app: INestApplication;
  readonly url: string;
  readonly service: ClaudeStreamService;
}

export async function startApp(
  adapter: AdapterName,
  options: ClaudeStreamModuleOptions,
  { forceCloseConnections = true }: { forceCloseConnections?: boolean } = {},
): Promise<TestApp> {
  @Module({ imports: [ClaudeStreamModule.forRoot(options)], controllers: [ChatController] })
  class AppModule {}

  const httpAdapter = adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(AppModule, httpAdapter, { logger: false, forceCloseConnections });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, service: app.get(ClaudeStreamService) };
}
