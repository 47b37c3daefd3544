import Anthropic from '@anthropic-ai/sdk';
import { errorReply, streamReply, textMessage } from 'claude-rx/testing';
import { demo, main } from '../../samples/quick-start.js';
import { MODEL } from '../../samples/support/demo-client.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

describe('samples/quick-start', () => {
  it('prints the answer fragment by fragment as it streams, then a line break', async () => {
    fake.server.enqueue(streamReply(textMessage('Cold water remembers', { chunkSize: 3 })));
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text));

    expect(writes.join('')).toBe('Cold water remembers\n');
    expect(writes.slice(0, 3)).toEqual(['Col', 'd w', 'ate']);
    expect(fake.server.requests).toHaveLength(1);
    expect(fake.server.lastRequest!.body).toMatchObject({
      model: MODEL,
      stream: true,
      messages: [{ role: 'user', content: 'Write a haiku about a river.' }],
    });
  });

  it('rejects with the SDK error when the API refuses the request', async () => {
    fake.server.enqueue(errorReply(401));
    const writes: string[] = [];

    await expect(main(fake.client, (text) => writes.push(text))).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    expect(writes).toEqual([]);
  });

  it('plays its demo script when run without an API key', async () => {
    demo(fake.server);
    const writes: string[] = [];

    await main(fake.client, (text) => writes.push(text));

    expect(writes.join('')).toBe('Cold water remembers\nevery stone it has carried:\nthe sea forgets none.\n');
  });
});
