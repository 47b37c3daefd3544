import { messageEvents, streamReply, text, textMessage, thinking } from 'claude-rx/testing';
import { demo, main } from '../../samples/thinking-and-text.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

async function run(): Promise<string> {
  const writes: string[] = [];
  await main(fake.client, (fragment) => writes.push(fragment));
  return writes.join('');
}

describe('samples/thinking-and-text', () => {
  it('prints the thinking, then the answer, each under its heading, from one request', async () => {
    fake.server.enqueue(
      streamReply(
        messageEvents([thinking('Odd; 7 × 143 = 1001.', 'sig_1'), text('No, 1001 = 7 × 11 × 13.')], { chunkSize: 4 }),
      ),
    );

    expect(await run()).toBe('[Thinking]\nOdd; 7 × 143 = 1001.\n\n[Answer]\nNo, 1001 = 7 × 11 × 13.\n');
    expect(fake.server.requests).toHaveLength(1);
    const body = fake.server.lastRequest!.body!;
    expect(body['thinking']).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect(body['max_tokens']).toBeGreaterThan(2048);
  });

  it('prints a heading each time the kind of block changes', async () => {
    fake.server.enqueue(
      streamReply(messageEvents([thinking('A', 's1'), text('B'), thinking('C', 's2'), text('D')], { chunkSize: 4 })),
    );

    expect(await run()).toBe('[Thinking]\nA\n\n[Answer]\nB\n\n[Thinking]\nC\n\n[Answer]\nD\n');
  });

  it('prints only the answer when there is no thinking', async () => {
    fake.server.enqueue(streamReply(textMessage('Not prime.')));

    expect(await run()).toBe('[Answer]\nNot prime.\n');
  });

  it('plays its demo script when run without an API key', async () => {
    demo(fake.server);

    const output = await run();

    expect(output).toMatch(
      /^\[Thinking\]\n1001 is odd.*composite\.\n\n\[Answer\]\nNo\. 1001 = 7 × 11 × 13, so it is not prime\.\n$/s,
    );
  });
});
