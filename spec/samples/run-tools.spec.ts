import { messageEvents, streamReply, text, textMessage, toolUse, toolUseMessage } from 'claude-rx/testing';
import { demo, main } from '../../samples/run-tools.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const QUESTION = { role: 'user', content: 'What is the weather like in Paris and in Tokyo right now?' };

async function run(): Promise<{ output: string; messages: readonly unknown[] }> {
  const writes: string[] = [];
  const messages = await main(fake.client, (fragment) => writes.push(fragment));
  return { output: writes.join(''), messages };
}

describe('samples/run-tools', () => {
  it('prints the text of every turn, each tool call and its result', async () => {
    fake.server.enqueue(
      streamReply(
        messageEvents(
          [
            text('Checking.'),
            toolUse({ id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' }, chunkSize: 4 }),
            toolUse({ id: 'toolu_tokyo', name: 'get_weather', input: { city: 'Tokyo' }, chunkSize: 4 }),
          ],
          { chunkSize: 4 },
        ),
      ),
      streamReply(textMessage('Sunny in Paris, rainy in Tokyo.', { chunkSize: 4 })),
    );

    const { output, messages } = await run();

    // Both calls run at once; which result prints first is up to the timers.
    expect(output).toMatch(/^Checking\.\n\[calling get_weather\]\n\[calling get_weather\]\n/);
    expect(output).toContain('[result {"city":"Paris"} -> Paris: sunny, 21 °C]\n');
    expect(output).toContain('[result {"city":"Tokyo"} -> Tokyo: light rain, 16 °C]\n');
    expect(output).toMatch(/\]\nSunny in Paris, rainy in Tokyo\.\n$/);
    expect(fake.server.requests).toHaveLength(2);
    expect(fake.server.requests[1]!.body!['messages']).toEqual([
      QUESTION,
      {
        role: 'assistant',
        content: [
          expect.objectContaining({ type: 'text', text: 'Checking.' }),
          { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_tokyo', name: 'get_weather', input: { city: 'Tokyo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_paris', content: 'Paris: sunny, 21 °C' },
          { type: 'tool_result', tool_use_id: 'toolu_tokyo', content: 'Tokyo: light rain, 16 °C' },
        ],
      },
    ]);
    expect(messages).toHaveLength(4);
  });

  it('reports an invalid call as failed and lets Claude carry on', async () => {
    fake.server.enqueue(
      streamReply(toolUseMessage('get_weather', { town: 'Paris' }, { toolUseId: 'toolu_bad' })),
      streamReply(textMessage('Sorry.')),
    );

    const { output } = await run();

    expect(output).toContain(
      '[failed {"town":"Paris"} -> Invalid input for tool "get_weather": input: missing required property "city"; ' +
        'input: unexpected property "town"]\n',
    );
    expect(output).toMatch(/Sorry\.\n$/);
  });

  it('gives up after five turns of tool calls', async () => {
    fake.server.respondWith(() => streamReply(toolUseMessage('get_weather', { city: 'Paris' })));

    await expect(run()).rejects.toThrow('Claude still called tools after 5 turns (maxTurns)');
    expect(fake.server.requests).toHaveLength(5);
  });

  it('plays its demo script when run without an API key', async () => {
    demo(fake.server);

    const { output } = await run();

    expect(output).toMatch(
      /^I'll check the weather in both cities\.\n\[calling get_weather\]\n\[calling get_weather\]\n/,
    );
    expect(output).toMatch(
      /\]\nParis is sunny at 21 °C, while Tokyo has light rain at 16 °C\. Pack an umbrella for Tokyo!\n$/,
    );
    expect(fake.server.requests).toHaveLength(2);
  });
});
