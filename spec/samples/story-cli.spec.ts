import Anthropic from '@anthropic-ai/sdk';
import { NEVER, Subject } from 'rxjs';
import { errorReply, messageEvents, streamReply, text, thinking } from 'claude-rx/testing';
import { demo, main } from '../../samples/story-cli.js';
import { MODEL } from '../../samples/support/demo-client.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const dim = (value: string) => `<dim>${value}</dim>`;

function story(options: { chunkSize?: number } = {}) {
  return messageEvents(
    [thinking('A keeper, a whale.', 'sig_1', { chunkSize: 6 }), text('Ada wound the lamp.', options)],
    {
      usage: { input_tokens: 27, output_tokens: 251 },
    },
  );
}

/** An output sink that can tell when something has been written. */
function terminal() {
  const writes: string[] = [];
  let waiting: { needle: string; resolve: () => void } | undefined;
  return {
    writes,
    output: () => writes.join(''),
    write: (value: string) => {
      writes.push(value);
      if (waiting && writes.join('').includes(waiting.needle)) waiting.resolve();
    },
    written: (needle: string) => new Promise<void>((resolve) => (waiting = { needle, resolve })),
  };
}

describe('samples/story-cli', () => {
  it('prints the thinking dimmed, then the story, then the token usage, from one request', async () => {
    fake.server.enqueue(streamReply(story()));
    const out = terminal();

    await main(fake.client, out.write, { stop: NEVER, dim });

    expect(out.writes.slice(0, 3)).toEqual([dim('A keep'), dim('er, a '), dim('whale.')]);
    expect(out.output()).toBe(
      dim('A keep') +
        dim('er, a ') +
        dim('whale.') +
        '\n\nAda wound the la' +
        'mp.' +
        dim('\n\nTokens: 27 in, 251 out\n'),
    );
    expect(fake.server.requests).toHaveLength(1);
    expect(fake.server.lastRequest!.body).toMatchObject({
      model: MODEL,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      stream: true,
    });
  });

  it('stops when told to: aborts the request, reports the tokens so far and resolves', async () => {
    fake.server.enqueue(streamReply(story({ chunkSize: 4 }), { stallAfter: 9 }));
    const out = terminal();
    const stop = new Subject<void>();

    const done = main(fake.client, out.write, { stop, dim });
    await out.written('Ada ');
    stop.next();
    await done;

    expect(out.output().endsWith('\n\nAda ' + dim('\n\nStopped. Tokens so far: 27 in, 1 out\n'))).toBe(true);
    const request = fake.server.lastRequest!;
    await request.closed;
    expect(request.closedByClient).toBe(true);
  });

  it('stops on Ctrl-C by default, and stops listening for it afterwards', async () => {
    fake.server.enqueue(streamReply(story({ chunkSize: 4 }), { stallAfter: 9 }));
    const out = terminal();
    const listenersBefore = process.listenerCount('SIGINT');

    const done = main(fake.client, out.write, { dim });
    await out.written('Ada ');
    expect(process.listenerCount('SIGINT')).toBe(listenersBefore + 1);
    process.emit('SIGINT', 'SIGINT');
    await done;

    expect(out.output()).toContain('Stopped. Tokens so far');
    await fake.server.lastRequest!.closed;
    expect(fake.server.lastRequest!.closedByClient).toBe(true);
    expect(process.listenerCount('SIGINT')).toBe(listenersBefore);
  });

  it('retries when rate limited, and says so', async () => {
    fake.server.enqueue(errorReply(429, { retryAfterMs: 20 }), streamReply(story()));
    const out = terminal();

    await main(fake.client, out.write, { stop: NEVER, dim });

    expect(out.writes[0]).toBe(dim('\n(rate limited: retry 1 in 20 ms)\n'));
    expect(out.output()).toContain('Ada wound the lamp.');
    expect(fake.server.requests).toHaveLength(2);
  });

  it('rejects with the API error it cannot handle, with no usage to report', async () => {
    fake.server.enqueue(errorReply(401));
    const out = terminal();

    await expect(main(fake.client, out.write, { stop: NEVER, dim })).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
    expect(out.output()).toBe('');
  });

  it('plays its demo script when run without an API key: thinking first, then about 150 words of story', async () => {
    demo(fake.server);
    const out = terminal();

    await main(fake.client, out.write, { stop: NEVER, dim });

    const output = out.output();
    const thoughts = output.slice(0, output.indexOf('\n\nEvery night'));
    expect(thoughts.replace(/<dim>.*?<\/dim>/gs, '')).toBe('');
    expect(thoughts.replace(/<\/?dim>/g, '')).toMatch(/^A lighthouse keeper, alone.*end at dawn\.$/);
    expect(output.endsWith(dim('\n\nTokens: 27 in, 251 out\n'))).toBe(true);
    const words = output
      .replace(/<dim>.*?<\/dim>/gs, '')
      .trim()
      .split(/\s+/);
    expect(words.length).toBeGreaterThanOrEqual(130);
    expect(words.length).toBeLessThanOrEqual(180);
  });
});
