import 'reflect-metadata';
import {
  Body,
  Controller,
  Headers,
  HttpCode,
  Inject,
  Module,
  Post,
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
import { defineTool, type RunnableTool } from 'claude-rx';
import { ClaudeStreamModule, ClaudeStreamService, LastEventId, type ClaudeStreamModuleOptions } from 'claude-rx/nest';

export type AdapterName = 'express' | 'fastify';

/** The header the routes take the owner from (a stand-in for the signed-in user). */
export const OWNER_HEADER = 'x-user';

/** The input of every call of the agent route's tool, in order, for the app that ran it. */
const TOOL_CALLS = Symbol('TOOL_CALLS');

/** The owner of a request: its `x-user` header, none when absent or empty. */
function ownerOf(header: string | undefined): string | undefined {
  return header === undefined || header === '' ? undefined : header;
}

/**
 * The routes of resume mode: a chat stream (GET for EventSource, POST for fetch), resume and stop from any request,
 * and a tool-use conversation. Every route takes its owner from `x-user`.
 */
@Controller()
export class ResumableController {
  private readonly getWeather: RunnableTool<{ city: string }>;

  constructor(
    private readonly claude: ClaudeStreamService,
    @Inject(TOOL_CALLS) calls: { city: string }[],
  ) {
    this.getWeather = defineTool<{ city: string }>({
      name: 'get_weather',
      description: 'The current weather in a city.',
      inputSchema: {
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
        additionalProperties: false,
      },
      run: ({ city }) => {
        calls.push({ city });
        return `${city}: sunny, 21 °C`;
      },
    });
  }

  @Sse('chat/stream')
  async stream(
    @Query('q') q: string,
    @LastEventId() lastEventId: string | undefined,
    @Headers(OWNER_HEADER) owner: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.claude.sse(
      { messages: [{ role: 'user', content: q }] },
      { lastEventId, owner: ownerOf(owner), signal },
    );
  }

  @Sse('chat/stream', { method: RequestMethod.POST })
  @HttpCode(200)
  async post(
    @Body() body: { q: string; model?: string },
    @LastEventId() lastEventId: string | undefined,
    @Headers(OWNER_HEADER) owner: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.claude.sse(
      { messages: [{ role: 'user', content: body.q }], ...(body.model === undefined ? {} : { model: body.model }) },
      { lastEventId, owner: ownerOf(owner), signal },
    );
  }

  /** fetch() with the Last-Event-ID header; none at all is answered as a malformed id (400). */
  @Sse('chat/resume', { method: RequestMethod.POST })
  @HttpCode(200)
  async resume(
    @LastEventId() lastEventId: string | undefined,
    @Headers(OWNER_HEADER) owner: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.claude.resume(lastEventId ?? '', { owner: ownerOf(owner), signal });
  }

  @Post('chat/stop')
  @HttpCode(200)
  async stop(
    @Body() body: { id: string },
    @Headers(OWNER_HEADER) owner: string | undefined,
  ): Promise<{ stopped: boolean }> {
    return { stopped: await this.claude.stop(body.id, { owner: ownerOf(owner) }) };
  }

  @Sse('agent/run', { method: RequestMethod.POST })
  @HttpCode(200)
  async run(
    @Body() body: { q: string },
    @LastEventId() lastEventId: string | undefined,
    @Headers(OWNER_HEADER) owner: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.claude.sseRunTools(
      { messages: [{ role: 'user', content: body.q }] },
      { tools: [this.getWeather], maxTurns: 4, lastEventId, owner: ownerOf(owner), signal },
    );
  }
}

/** An application with `ClaudeStreamModule.forRoot(options)` and `ResumableController`, listening on 127.0.0.1. */
export interface ResumableApp {
  readonly app: INestApplication;
  readonly url: string;
  readonly service: ClaudeStreamService;
  /** The agent route's tool calls, as it ran them. */
  readonly toolCalls: readonly { city: string }[];
}

export async function startResumableApp(
  options: ClaudeStreamModuleOptions,
  adapter: AdapterName = 'express',
): Promise<ResumableApp> {
  const toolCalls: { city: string }[] = [];

  @Module({
    imports: [ClaudeStreamModule.forRoot(options)],
    controllers: [ResumableController],
    providers: [{ provide: TOOL_CALLS, useValue: toolCalls }],
  })
  class AppModule {}

  const httpAdapter = adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(AppModule, httpAdapter, { logger: false, forceCloseConnections: true });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, service: app.get(ClaudeStreamService), toolCalls };
}
