import Anthropic from '@anthropic-ai/sdk';
import { Observable, of, Subject, throwError, concat } from 'rxjs';
import { errorReply, streamReply, textMessage } from 'claude-rx/testing';
import { demo, eachValueOf, main } from '../../samples/async-iteration.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const value of iterable) values.push(value);
  return values;
}

describe('samples/async-iteration', () => {
  it('prints the first line with for await, aborts that request, then prints a whole answer with forEach', async () => {
    fake.server.enqueue(
      // The first answer stalls right after its line break: only an abort ends that request.
      streamReply(textMessage('Nile\nAmazon\nYangtze', { chunkSize: 3 }), { stallAfter: 4 }),
      streamReply(textMessage('Everest\nAconcagua\nDenali', { chunkSize: 3 })),
    );
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text));

    expect(writes.join('')).toBe(
      'for await, up to the first line break:\nNile\n\nforEach, the whole answer:\nEverest\nAconcagua\nDenali\n',
    );
    const [first, second] = fake.server.requests;
    await first!.closed;
    expect(first!.closedByClient).toBe(true);
    expect(second!.completed).toBe(true);
  });

  it('rejects with the SDK error when a request fails', async () => {
    fake.server.enqueue(streamReply(textMessage('Nile\nAmazon')), errorReply(529));

    await expect(main(fake.client, () => undefined)).rejects.toBeInstanceOf(Anthropic.InternalServerError);
  });

  it('plays its demo script when run without an API key', async () => {
    demo(fake.server);
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text));

    expect(writes.join('')).toBe(
      'for await, up to the first line break:\nNile\n\nforEach, the whole answer:\nEverest\nAconcagua\nDenali\n',
    );
  });
});

describe('eachValueOf', () => {
  it('yields every value in order, then ends', async () => {
    expect(await drain(eachValueOf(of(1, 2, 3)))).toEqual([1, 2, 3]);
  });

  it('subscribes only when the loop starts', async () => {
    let subscriptions = 0;
    const source = new Observable<number>((subscriber) => {
      subscriptions += 1;
      subscriber.next(1);
      subscriber.complete();
    });
    const iterable = eachValueOf(source);
    expect(subscriptions).toBe(0);
    expect(await drain(iterable)).toEqual([1]);
    expect(subscriptions).toBe(1);
  });

  it('keeps values that arrive while the loop body is busy', async () => {
    const source = new Subject<string>();
    const seen: string[] = [];
    const loop = (async () => {
      for await (const value of eachValueOf(source)) {
        seen.push(value);
        if (value === 'a') {
          // Three values arrive before the loop asks for the next one.
          source.next('b');
          source.next('c');
          source.complete();
        }
      }
    })();
    await Promise.resolve();
    source.next('a');
    await loop;
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('yields the values before an error, then throws it', async () => {
    const failure = new Error('boom');
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const value of eachValueOf(
          concat(
            of(1, 2),
            throwError(() => failure),
          ),
        ))
          seen.push(value);
      })(),
    ).rejects.toBe(failure);
    expect(seen).toEqual([1, 2]);
  });

  it('unsubscribes when the loop breaks, returns or throws', async () => {
    let active = 0;
    const endless = new Observable<number>((subscriber) => {
      active += 1;
      let n = 0;
      // Ends by itself after a while, so that a failing test cannot hang the run.
      const timer = setInterval(() => (n < 100 ? subscriber.next(n++) : subscriber.complete()), 1);
      return () => {
        clearInterval(timer);
        active -= 1;
      };
    });

    for await (const value of eachValueOf(endless)) if (value === 2) break;
    expect(active).toBe(0);

    const firstOver = async () => {
      for await (const value of eachValueOf(endless)) if (value > 0) return value;
      return -1;
    };
    expect(await firstOver()).toBe(1);
    expect(active).toBe(0);

    await expect(
      (async () => {
        for await (const _ of eachValueOf(endless)) throw new Error('stop');
      })(),
    ).rejects.toThrow('stop');
    expect(active).toBe(0);
  });
});
