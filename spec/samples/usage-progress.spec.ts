import Anthropic from '@anthropic-ai/sdk';
import { errorReply, streamReply, textMessage } from 'claude-rx/testing';
import { demo, main } from '../../samples/usage-progress.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

describe('samples/usage-progress', () => {
  it('prints the usage when the message starts and as it grows, then the final usage', async () => {
    fake.server.enqueue(
      streamReply(
        textMessage('Dawn breaks.', { usage: { input_tokens: 16, cache_read_input_tokens: 4, output_tokens: 44 } }),
      ),
    );
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text));

    expect(writes.join('')).toBe(
      '[tokens so far: 16 in, 1 out]\n' +
        'Dawn breaks.\n' +
        '[tokens so far: 16 in, 44 out]\n' +
        '[final usage (complete): 16 in, 44 out]\n',
    );
  });

  it('still reports the final usage when the stream fails', async () => {
    fake.server.enqueue(
      streamReply(textMessage('Dawn breaks.', { usage: { input_tokens: 16 } }), {
        errorAfter: { events: 3, error: { type: 'overloaded_error', message: 'Overloaded' } },
      }),
    );
    const writes: string[] = [];

    await expect(main(fake.client, (text) => writes.push(text))).rejects.toBeInstanceOf(Anthropic.APIError);

    expect(writes.join('')).toMatch(/\[final usage \(error\): 16 in, 1 out\]\n$/);
  });

  it('says no usage was reported when the request fails before the stream', async () => {
    fake.server.enqueue(errorReply(500));
    const writes: string[] = [];

    await expect(main(fake.client, (text) => writes.push(text))).rejects.toBeInstanceOf(Anthropic.InternalServerError);

    expect(writes.join('')).toBe('[final usage (error): none reported]\n');
  });

  it('plays its demo script when run without an API key', async () => {
    demo(fake.server);
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text));

    expect(writes.join('')).toMatch(
      /^\[tokens so far: 16 in, 1 out\]\nThe horizon .* awake\.\n\[tokens so far: 16 in, 44 out\]\n\[final usage \(complete\): 16 in, 44 out\]\n$/s,
    );
  });
});
