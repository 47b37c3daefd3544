import { IncompleteStreamError } from 'claude-rx';
import { streamReply, textMessage } from 'claude-rx/testing';
import { demo, main } from '../../samples/final-message.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

describe('samples/final-message', () => {
  it('prints the text as it streams, then facts from the final message, from one request', async () => {
    fake.server.enqueue(
      streamReply(
        textMessage('Rayleigh scattering.', {
          id: 'msg_sky',
          chunkSize: 5,
          stopReason: 'max_tokens',
          usage: { input_tokens: 18, output_tokens: 41 },
        }),
      ),
    );
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text));

    expect(writes.slice(0, 4)).toEqual(['Rayle', 'igh s', 'catte', 'ring.']);
    expect(writes.join('')).toBe(
      'Rayleigh scattering.\n\n' +
        'id: msg_sky\n' +
        'stop_reason: max_tokens\n' +
        'content blocks: text\n' +
        'usage: 18 input tokens, 41 output tokens\n',
    );
    expect(fake.server.requests).toHaveLength(1);
  });

  it('rejects with IncompleteStreamError, after printing what arrived, when the connection is lost', async () => {
    fake.server.enqueue(streamReply(textMessage('Rayleigh scattering.', { chunkSize: 5 }), { resetAfter: 4 }));
    const writes: string[] = [];

    const error: unknown = await main(fake.client, (text) => writes.push(text)).then(
      () => undefined,
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(IncompleteStreamError);
    expect(writes.join('')).toBe('Rayleigh s');
  });

  it('plays its demo script when run without an API key', async () => {
    demo(fake.server);
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text));

    expect(writes.join('')).toMatch(
      /^Sunlight scatters .* sky\.\n\nid: msg_\w+\nstop_reason: end_turn\ncontent blocks: text\nusage: 18 input tokens, 41 output tokens\n$/s,
    );
  });
});
