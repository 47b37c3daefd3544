/**
 * Two instances of a NestJS app on one Redis: a stream started on A, its connection dropped, resumed on B.
 *
 * In production each instance is a process of its own behind a load balancer, and the reconnect of a client lands
 * wherever the balancer sends it. Every instance gives `ClaudeStreamModule` a `RedisStreamStore` on the same Redis:
 * then any instance resumes, reads or stops any stream, and a reader on B keeps A's request from being aborted at
 * the grace. This sample runs A and B in one process (each with a Redis connection and a store of its own, exactly as
 * two processes would have) to show the whole exchange in one run:
 *
 *   `REDIS_URL=redis://127.0.0.1:6379 node dist/samples/redis-instances.js`
 *
 * To run real separate instances, start this file once per port with `serve`, and put a proxy in front:
 *
 *   `PORT=3001 REDIS_URL=… node dist/samples/redis-instances.js serve` (and `PORT=3002 …`)
 */
import 'reflect-metadata';
import type Anthropic from '@anthropic-ai/sdk';
import {
  Controller,
  Headers,
  HttpCode,
  Module,
  Post,
  Query,
  RequestMethod,
  Sse,
  SseSignal,
  Body,
  type INestApplication,
  type MessageEvent,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Redis } from 'ioredis';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Observable } from 'rxjs';
import { ClaudeStreamModule, ClaudeStreamService, LastEventId } from 'claude-rx/nest';
import { RedisStreamStore } from 'claude-rx/redis';
import { streamReply, textMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

/** The routes of one instance: start (GET, for EventSource), resume (POST, for fetch) and stop. */
@Controller('chat')
class ChatController {
  constructor(private readonly claude: ClaudeStreamService) {}

  @Sse('stream')
  stream(
    @Query('q') q: string,
    @LastEventId() lastEventId: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    // An EventSource that reconnects to any instance sends Last-Event-ID: it is resumed, never started again.
    return this.claude.sse({ messages: [{ role: 'user', content: q }] }, { lastEventId, signal });
  }

  @Sse('resume', { method: RequestMethod.POST })
  @HttpCode(200)
  resume(@Headers('last-event-id') lastEventId: string | undefined, @SseSignal() signal: AbortSignal) {
    return this.claude.resume(lastEventId ?? '', { signal });
  }

  @Post('stop')
  @HttpCode(200)
  async stop(@Body('id') id: string): Promise<{ stopped: boolean }> {
    return { stopped: await this.claude.stop(String(id)) };
  }
}

/** One running instance. */
export interface Instance {
  readonly app: INestApplication;
  readonly url: string;
  /** Closes the app (a deploy's stop: readers let go, streams drained), then its store and Redis connection. */
  close(): Promise<void>;
}

/**
 * Starts one instance: a NestJS app whose streams are resumable on the Redis at `redisUrl`.
 *
 * @example
 * ```ts
 * const a = await startInstance({ client, redisUrl: 'redis://127.0.0.1:6379', port: 3001 });
 * ```
 */
export async function startInstance(options: {
  client: Anthropic;
  redisUrl: string;
  port?: number;
  graceMs?: number;
}): Promise<Instance> {
  const { client, redisUrl, port = 0, graceMs = 15_000 } = options;
  // Bounded: a Redis that is down makes calls fail fast instead of queueing them forever.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const store = new RedisStreamStore(redis);

  @Module({
    imports: [
      ClaudeStreamModule.forRoot({
        client,
        defaults: { model: MODEL, max_tokens: 1024 },
        store,
        resume: { graceMs, drainMs: 10_000 },
      }),
    ],
    controllers: [ChatController],
  })
  class InstanceModule {}

  const app = await NestFactory.create(InstanceModule, { logger: ['error', 'warn'] });
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
  return {
    app,
    url,
    async close() {
      await app.close();
      await store.close();
      redis.disconnect();
    },
  };
}

/** Reads an SSE response until `stopAfter` events (then drops the connection) or its end; returns the events. */
async function readEvents(response: Response, stopAfter = Infinity): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  while (events.length < stopAfter) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  // Dropping the connection, as a phone changing networks does.
  await reader.cancel();
  return events.slice(0, stopAfter);
}

const textOf = (events: readonly EventSourceMessage[]) =>
  events
    .filter((event) => event.event === 'content_block_delta')
    .map((event) => (JSON.parse(event.data) as { delta: { text?: string } }).delta.text ?? '')
    .join('');

export async function main(
  client: Anthropic,
  { redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', write = (line: string) => console.log(line) } = {},
): Promise<void> {
  const a = await startInstance({ client, redisUrl });
  const b = await startInstance({ client, redisUrl });
  try {
    const question = encodeURIComponent('Tell me about rivers, in two sentences.');
    const first = await readEvents(await fetch(`${a.url}/chat/stream?q=${question}`), 6);
    const lastId = first.at(-1)!.id!;
    write(`A: ${first.length} events, then the connection dropped; text so far: ${JSON.stringify(textOf(first))}`);
    // The client reconnects; the balancer sends it to B. The stream id travels in the header, never in the URL.
    const rest = await readEvents(
      await fetch(`${b.url}/chat/resume`, { method: 'POST', headers: { 'last-event-id': lastId } }),
    );
    write(
      `B: ${rest.length} more events, ending with "${rest.at(-1)?.event}"; the rest: ${JSON.stringify(textOf(rest))}`,
    );
    write(`The whole answer: ${textOf([...first, ...rest])}`);
  } finally {
    await a.close();
    await b.close();
  }
}

/** What the fake server answers when no API key is set. */
export function demo(server: FakeClaudeServer): void {
  const answer =
    'Rivers carry water from the hills to the sea, shaping valleys as they go. They feed the land, the towns and the creatures along their banks.';
  server.enqueue(streamReply(textMessage(answer, { chunkSize: 6 }), { delayMs: 40 }));
}

if (isEntryPoint(import.meta)) {
  if (process.argv[2] === 'serve') {
    await runDemo(
      (server) =>
        server.respondWith(() =>
          streamReply(textMessage('Hello from one of the instances.', { chunkSize: 4 }), { delayMs: 60 }),
        ),
      async (client) => {
        const instance = await startInstance({
          client,
          redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
          port: Number(process.env['PORT'] ?? 3001),
        });
        console.error(`[claude-rx demo] listening on ${instance.url}; Ctrl-C to stop`);
        await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
        await instance.close();
      },
    );
  } else {
    await runDemo(demo, (client) => main(client));
  }
}
