import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { lastValueFrom, toArray } from 'rxjs';
import { claudeStream, defineTool, finalMessage, runTools, textOnly } from 'claude-rx';
import { ClaudeStreamModule, ClaudeStreamService } from 'claude-rx/nest';
import { streamReply, textMessage, toolUseMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { PARAMS, trackUnhandledRejections, useFakeClaude } from './support/harness.js';
import { foundryClientFor, vertexClientFor } from './testing/helpers.js';

// claude-rx on the platform clients, for real: the Vertex and Foundry SDKs against the fake server's paths for them.

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const platforms = [
  { name: 'Vertex', client: (server: FakeClaudeServer) => vertexClientFor(server), platform: 'vertex' },
  { name: 'Foundry', client: (server: FakeClaudeServer) => foundryClientFor(server), platform: 'foundry' },
] as const;

describe.each(platforms)('on $name', ({ client: clientFor, platform }) => {
  it('claudeStream streams, and unsubscribing aborts the request', async () => {
    const client = clientFor(fake.server);
    fake.server.enqueue(streamReply(textMessage('Hello from the platform')));
    const text = await lastValueFrom(claudeStream(client, PARAMS).pipe(textOnly(), toArray()));
    expect(text.join('')).toBe('Hello from the platform');
    expect(fake.server.requests[0]).toMatchObject({ platform, model: PARAMS.model });

    fake.server.enqueue(streamReply(textMessage('Hello there, a long answer', { chunkSize: 2 }), { stallAfter: 4 }));
    const subscription = claudeStream(client, PARAMS).subscribe();
    const [, request] = await fake.server.waitForRequests(2);
    subscription.unsubscribe();
    await request!.closed;
    expect(request!.closedByClient).toBe(true);
  });

  it('runTools runs a two-turn conversation', async () => {
    const client = clientFor(fake.server);
    fake.server.enqueue(streamReply(toolUseMessage('now', {})), streamReply(textMessage('It is noon.')));
    const now = defineTool({ name: 'now', inputSchema: { type: 'object' }, run: () => 'noon' });
    const events = await lastValueFrom(runTools(client, PARAMS, { tools: [now] }).pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'turn_end', turn: 2 });
    expect(fake.server.requests.map((request) => request.platform)).toEqual([platform, platform]);
  });

  it('beta params go through its beta API', async () => {
    const client = clientFor(fake.server);
    fake.server.enqueue(streamReply(textMessage('Beta hello')));
    const message = await lastValueFrom(
      claudeStream(client, { ...PARAMS, betas: ['compact-2026-01-12'] }).pipe(finalMessage()),
    );
    expect(message.content).toEqual([{ type: 'text', text: 'Beta hello' }]);
    expect(fake.server.requests[0]!.headers['anthropic-beta']).toBe('compact-2026-01-12');
  });

  it('ClaudeStreamModule takes it as its client', async () => {
    const client = clientFor(fake.server);
    const moduleRef = await Test.createTestingModule({
      imports: [ClaudeStreamModule.forRoot({ client, defaults: { model: PARAMS.model, max_tokens: 64 } })],
    }).compile();
    try {
      const service = moduleRef.get(ClaudeStreamService);
      expect(service.client).toBe(client);
      fake.server.enqueue(streamReply(textMessage('From the module')));
      const sse = await lastValueFrom((await service.sse({ messages: PARAMS.messages })).pipe(toArray()));
      expect(sse.map((event) => event.type).at(-1)).toBe('done');
      expect(fake.server.requests[0]).toMatchObject({ platform });
    } finally {
      await moduleRef.close();
    }
  });
});
