import { APIError } from '@anthropic-ai/sdk';
import type { MessageEvent } from '@nestjs/common';
import { tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ChunkTimeoutError, IncompleteStreamError, type ClaudeRxEvent, type ClaudeStreamEvent } from 'claude-rx';
import { toSse } from 'claude-rx/nest';
import { messageEvents, text, thinking } from 'claude-rx/testing';

const EVENTS = messageEvents(
  [thinking('Hmm', 'sig_1', { chunkSize: 3 }), text('Hi\n\nevent: done\ndata: {}', { chunkSize: 50 })],
  { id: 'msg_to_sse' },
);

function find(type: string, deltaType?: string): ClaudeStreamEvent {
  const found = EVENTS.find(
    (event) =>
      event.type === type &&
      (deltaType === undefined || (event.type === 'content_block_delta' && event.delta.type === deltaType)),
  );
  if (!found) throw new Error(`no ${type} ${deltaType ?? ''} in the fixture`);
  return found;
}

const START = find('message_start');
const BLOCK = find('content_block_start');
const THINK = find('content_block_delta', 'thinking_delta');
const SIGN = find('content_block_delta', 'signature_delta');
const TEXT = find('content_block_delta', 'text_delta');
const DELTA = find('message_delta');
const STOP = find('message_stop');

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** The MessageEvent of a stream event with this id. */
function sse(event: ClaudeStreamEvent, id: number): MessageEvent {
  return { type: event.type, id: String(id), data: JSON.stringify(event) };
}
const heartbeat: MessageEvent = { comment: 'heartbeat' };
const done = (id: number): MessageEvent => ({ type: 'done', id: String(id), data: '{}' });
const failure = (id: number, data: object): MessageEvent => ({
  type: 'error',
  id: String(id),
  data: JSON.stringify(data),
});

describe('toSse', () => {
  it('never: only heartbeats, every heartbeatMs', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ClaudeRxEvent>('-');
      expectObservable(source.pipe(toSse({ heartbeatMs: 10 })), '^ 35ms !').toBe('10ms h 9ms h 9ms h', {
        h: heartbeat,
      });
      expectSubscriptions(source.subscriptions).toBe('^ 35ms !');
    });
  });

  it('empty: a done event with id 1', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<ClaudeRxEvent>('|').pipe(toSse())).toBe('(d|)', { d: done(1) });
    });
  });

  it('many: each event named by its type, as JSON, with increasing ids, then done; a heartbeat only in silences', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ClaudeRxEvent>('a 24ms b 5ms |', { a: START, b: STOP });
      expectObservable(source.pipe(toSse({ heartbeatMs: 10 }))).toBe('a 9ms h 9ms h 4ms b 5ms (d|)', {
        a: sse(START, 1),
        b: sse(STOP, 2),
        h: heartbeat,
        d: done(3),
      });
      expectSubscriptions(source.subscriptions).toBe('^ 30ms !');
    });
  });

  it('heartbeatMs: false writes no comment', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold<ClaudeRxEvent>('a 100ms |', { a: START });
      expectObservable(source.pipe(toSse({ heartbeatMs: false }))).toBe('a 100ms (d|)', {
        a: sse(START, 1),
        d: done(2),
      });
    });
  });

  it('keeps only the events asked for, by event or delta type; ids count what is sent', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold<ClaudeRxEvent>('abcdefg|', {
        a: START,
        b: BLOCK,
        c: THINK,
        d: SIGN,
        e: TEXT,
        f: DELTA,
        g: STOP,
      });
      expectObservable(source.pipe(toSse({ events: ['thinking_delta', 'text_delta', 'message_stop'] }))).toBe(
        '--c-e-g(d|)',
        { c: sse(THINK, 1), e: sse(TEXT, 2), g: sse(STOP, 3), d: done(4) },
      );
    });
  });

  it('takes a predicate', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold<ClaudeRxEvent>('ab|', { a: START, b: STOP });
      expectObservable(source.pipe(toSse({ events: (event) => event.type === 'message_stop' }))).toBe('-b(d|)', {
        b: sse(STOP, 1),
        d: done(2),
      });
    });
  });

  it('JSON-encodes the model text, so that it cannot forge frames', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold<ClaudeRxEvent>('a|', { a: TEXT });
      expectObservable(source.pipe(toSse())).toBe('a(d|)', { a: sse(TEXT, 1), d: done(2) });
    });
    const data = sse(TEXT, 1).data as string;
    expect(data).not.toMatch(/[\r\n]/);
    expect((JSON.parse(data) as { delta: { text: string } }).delta.text).toBe('Hi\n\nevent: done\ndata: {}');
  });

  it('passes a stream_restart marker on, without its error, whatever the filter', () => {
    const marker: ClaudeRxEvent = { type: 'stream_restart', attempt: 1, delayMs: 250, error: new Error('secret') };
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold<ClaudeRxEvent>('ar|', { a: TEXT, r: marker });
      expectObservable(source.pipe(toSse({ events: ['text_delta'] }))).toBe('ar(d|)', {
        a: sse(TEXT, 1),
        r: {
          type: 'stream_restart',
          id: '2',
          data: JSON.stringify({ type: 'stream_restart', attempt: 1, delayMs: 250 }),
        },
        d: done(3),
      });
    });
  });

  it.each<[string, unknown, object]>([
    [
      'a mid-stream overload',
      new APIError(
        undefined,
        { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded sk-ant-secret' } },
        undefined,
        new Headers({ 'request-id': 'req_secret' }),
        'overloaded_error',
      ),
      { type: 'overloaded_error', retryable: true },
    ],
    [
      'a mid-stream rate limit',
      new APIError(
        undefined,
        { type: 'error', error: { type: 'rate_limit_error', message: 'x' } },
        undefined,
        undefined,
        'rate_limit_error',
      ),
      { type: 'rate_limit_error', retryable: true },
    ],
    [
      'a mid-stream api_error',
      new APIError(
        undefined,
        { type: 'error', error: { type: 'api_error', message: 'x' } },
        undefined,
        undefined,
        'api_error',
      ),
      { type: 'upstream_error', retryable: true },
    ],
    [
      'a chunk timeout',
      new ChunkTimeoutError({ bound: 'each', limitMs: 5, eventsSeen: 3 }),
      { type: 'timeout_error', retryable: true },
    ],
    ['a cut stream', new IncompleteStreamError(undefined), { type: 'incomplete_stream_error', retryable: true }],
    ['anything else', new Error('ENOENT /home/app/.secret'), { type: 'upstream_error', retryable: false }],
  ])('error: %s becomes one sanitized error event, then the stream completes', (_, error, facts) => {
    let written: MessageEvent[] = [];
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ClaudeRxEvent>('a 5ms #', { a: START }, error);
      const sse$ = source.pipe(
        toSse({ heartbeatMs: 100 }),
        tap((event) => (written = [...written, event])),
      );
      expectObservable(sse$).toBe('a 5ms (e|)', {
        a: sse(START, 1),
        e: expect.objectContaining({ type: 'error', id: '2' }),
      });
      expectSubscriptions(source.subscriptions).toBe('^ 5ms !');
    });
    const data = JSON.parse(written.at(-1)?.data as string) as Record<string, unknown>;
    expect(data).toEqual({ ...facts, message: expect.any(String) });
    expect(JSON.stringify(written)).not.toMatch(/secret|ENOENT|req_|stack/);
  });

  it('error before any event: the error event has id 1', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold<ClaudeRxEvent>('#', undefined, new IncompleteStreamError(undefined));
      expectObservable(source.pipe(toSse())).toBe('(e|)', {
        e: failure(1, {
          type: 'incomplete_stream_error',
          message: 'The answer from Claude was cut off.',
          retryable: true,
        }),
      });
    });
  });

  it('unsubscribe: unsubscribes the source and stops the heartbeat', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ClaudeRxEvent>('a 50ms b|', { a: START, b: STOP });
      expectObservable(source.pipe(toSse({ heartbeatMs: 10 })), '^ 25ms !').toBe('a 9ms h 9ms h', {
        a: sse(START, 1),
        h: heartbeat,
      });
      expectSubscriptions(source.subscriptions).toBe('^ 25ms !');
    });
  });

  it('a throwing predicate: an error event, and the source is unsubscribed', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ClaudeRxEvent>('a 5ms b|', { a: START, b: STOP });
      const events = (event: { type: string }) => {
        if (event.type === 'message_stop') throw new Error('predicate bug');
        return true;
      };
      expectObservable(source.pipe(toSse({ events, heartbeatMs: false }))).toBe('a 5ms (e|)', {
        a: sse(START, 1),
        e: failure(2, { type: 'upstream_error', message: 'The request to Claude failed.', retryable: false }),
      });
      expectSubscriptions(source.subscriptions).toBe('^ 5ms !');
    });
  });

  it('ids start again at 1 for every subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const sse$ = cold<ClaudeRxEvent>('a|', { a: START }).pipe(toSse());
      expectObservable(sse$).toBe('a(d|)', { a: sse(START, 1), d: done(2) });
      expectObservable(sse$).toBe('a(d|)', { a: sse(START, 1), d: done(2) });
    });
  });

  it.each<[string, unknown, RegExp]>([
    ['a zero heartbeat', { heartbeatMs: 0 }, /heartbeatMs must be a positive number/],
    ['an infinite heartbeat', { heartbeatMs: Infinity }, /heartbeatMs/],
    ['an unknown event name', { events: ['text'] }, /"text", which is neither/],
    ['events that are not a list', { events: 'text_delta' }, /events must be a list/],
    ['options that are not an object', null, /options must be an object/],
  ])('throws a TypeError at creation for %s', (_, options, message) => {
    expect(() => toSse(options as never)).toThrow(TypeError);
    expect(() => toSse(options as never)).toThrow(message);
  });
});
