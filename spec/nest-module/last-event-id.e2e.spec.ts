import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { EventSource } from 'eventsource';
import { FakeClaudeServer, streamReply, textMessage } from 'claude-rx/testing';
import { API_KEY, MODEL } from './support/fixtures.js';
import { startApp, type AdapterName, type TestApp } from './support/nest-app.js';

// An EventSource reconnects by design after the server ends the stream, with the last id it saw as Last-Event-ID.
// A request that carries one must never start a new (paid) generation: without resumable streams it is a 204.

let server: FakeClaudeServer;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
});
afterEach(() => server.reset());
afterAll(() => server.close());

describe.each<AdapterName>(['express', 'fastify'])('Last-Event-ID on a GET @Sse() route (%s)', (adapter) => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startApp(adapter, {
      apiKey: API_KEY,
      baseURL: server.url,
      clientOptions: { maxRetries: 0 },
      defaults: { model: MODEL, max_tokens: 64 },
      sse: { heartbeatMs: false },
    });
  });
  afterEach(() => app.app.close());

  it('answers a request that carries it with 204 and an empty body, sending nothing upstream', async () => {
    const response = await fetch(`${app.url}/chat/stream?q=hi`, {
      headers: { accept: 'text/event-stream', 'last-event-id': '7' },
    });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    expect(server.requests).toHaveLength(0);
  });

  it('does not log the 204 as a failure', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const error = jest.spyOn(Logger.prototype, 'error');
    try {
      await fetch(`${app.url}/chat/stream?q=hi`, { headers: { 'last-event-id': '3' } });
      expect(warn).not.toHaveBeenCalled();
      expect(error).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });

  it('still streams a request without it (an empty header counts as none)', async () => {
    server.enqueue(streamReply(textMessage('Hi')));
    const response = await fetch(`${app.url}/chat/stream?q=hi`, { headers: { 'last-event-id': '' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('event: done');
    expect(server.requests).toHaveLength(1);
  });
});

describe('an EventSource left open on a GET route', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp('express', {
      apiKey: API_KEY,
      baseURL: server.url,
      clientOptions: { maxRetries: 0 },
      defaults: { model: MODEL, max_tokens: 64 },
      sse: { heartbeatMs: false },
    });
  });
  afterAll(() => app.app.close());

  it('makes one generation: its reconnect after done gets 204, which stops it', async () => {
    server.respondWith(() => streamReply(textMessage('Hello there')));
    const source = new EventSource(`${app.url}/chat/stream?q=hi`);
    const seen: string[] = [];
    let opens = 0;
    source.addEventListener('open', () => (opens += 1));
    source.addEventListener('done', () => seen.push('done'));
    // The eventsource package tells of a 204 with an error event and then closes for good (readyState CLOSED).
    const closed = new Promise<void>((resolve) => {
      source.addEventListener('error', () => {
        if (source.readyState === EventSource.CLOSED) resolve();
      });
    });
    try {
      await closed;
    } finally {
      source.close();
    }
    expect(seen).toEqual(['done']);
    expect(opens).toBe(1);
    expect(server.requests).toHaveLength(1);
  }, 15_000);
});
