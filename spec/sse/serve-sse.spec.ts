import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Observable, Subject } from 'rxjs';
import { encodeSse, serveSse, type SseMessage } from 'claude-rx';
import { sleep } from '../support/harness.js';

describe('encodeSse', () => {
  it('writes id, event and data lines, then a blank line', () => {
    expect(encodeSse({ id: '7', type: 'done', data: '{}' })).toBe('id: 7\nevent: done\ndata: {}\n\n');
  });

  it('gives each line of a data with newlines a data field of its own, so that none can forge a frame', () => {
    expect(encodeSse({ id: '1', type: 'x', data: 'a\n\nevent: done\r\nb' })).toBe(
      'id: 1\nevent: x\ndata: a\ndata: \ndata: event: done\ndata: b\n\n',
    );
  });

  it('writes a comment on one line', () => {
    expect(encodeSse({ comment: 'heart\nbeat' })).toBe(': heart beat\n\n');
  });
});

describe('serveSse', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(messages: () => Observable<SseMessage>): Promise<string> {
    server = createServer((_request, response) => serveSse(response, messages(), { heartbeatMs: false }));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('answers with the SSE headers, each message, and ends with the messages', async () => {
    const url = await serve(
      () =>
        new Observable<SseMessage>((subscriber) => {
          subscriber.next({ id: '1', type: 'message_start', data: '{"a":1}' });
          subscriber.next({ id: '2', type: 'done', data: '{}' });
          subscriber.complete();
        }),
    );
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(await response.text()).toBe(
      'id: 1\nevent: message_start\ndata: {"a":1}\n\nid: 2\nevent: done\ndata: {}\n\n',
    );
  });

  it('ends a failed stream with one sanitized error event', async () => {
    const url = await serve(
      () =>
        new Observable<SseMessage>((subscriber) => {
          subscriber.next({ id: '1', type: 'message_start', data: '{}' });
          subscriber.error(new Error('postgres://user:secret@db'));
        }),
    );
    const body = await (await fetch(url)).text();
    expect(body).toMatch(/event: error\ndata: \{"type":"upstream_error","message":"[^"]+","retryable":false\}\n\n$/);
    expect(body).not.toContain('secret');
  });

  it('unsubscribes the messages when the client goes away', async () => {
    let left = false;
    const live = new Subject<SseMessage>();
    const url = await serve(
      () =>
        new Observable<SseMessage>((subscriber) => {
          const inner = live.subscribe(subscriber);
          return () => {
            left = true;
            inner.unsubscribe();
          };
        }),
    );
    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    const reader = response.body!.getReader();
    live.next({ id: '1', type: 'message_start', data: '{}' });
    await reader.read();
    controller.abort();
    for (let waited = 0; !left && waited < 1_000; waited += 10) await sleep(10);
    expect(left).toBe(true);
  });
});
