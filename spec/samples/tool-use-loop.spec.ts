import { messageEvents, streamReply, text, textMessage, toolUse, toolUseMessage } from 'claude-rx/testing';
import { demo, main } from '../../samples/tool-use-loop.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const QUESTION = { role: 'user', content: 'What is the weather like in Paris and in Tokyo right now?' };

function toolCallsThenAnswer(): void {
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
}

async function run(): Promise<string> {
  const writes: string[] = [];
  await main(fake.client, (fragment) => writes.push(fragment));
  return writes.join('');
}

describe('samples/tool-use-loop', () => {
  it('prints the text, each tool call and its result, then the answer of the next turn', async () => {
    toolCallsThenAnswer();

    expect(await run()).toBe(
      'Checking.\n' +
        '[calling get_weather {"city":"Paris"}]\n' +
        '[calling get_weather {"city":"Tokyo"}]\n' +
        '[result Paris: sunny, 21 °C]\n' +
        '[result Tokyo: light rain, 16 °C]\n' +
        'Sunny in Paris, rainy in Tokyo.\n',
    );
  });

  it('sends the assistant turn and one tool_result per tool call in the second request', async () => {
    toolCallsThenAnswer();

    await run();

    expect(fake.server.requests).toHaveLength(2);
    const [first, second] = fake.server.requests.map((request) => request.body!);
    expect(first!['messages']).toEqual([QUESTION]);
    expect(first!['tools']).toEqual([expect.objectContaining({ name: 'get_weather' })]);
    expect(second!['tools']).toEqual(first!['tools']);
    expect(second!['messages']).toEqual([
      QUESTION,
      {
        role: 'assistant',
        content: [
          expect.objectContaining({ type: 'text', text: 'Checking.' }),
          expect.objectContaining({
            type: 'tool_use',
            id: 'toolu_paris',
            name: 'get_weather',
            input: { city: 'Paris' },
          }),
          expect.objectContaining({
            type: 'tool_use',
            id: 'toolu_tokyo',
            name: 'get_weather',
            input: { city: 'Tokyo' },
          }),
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
  });

  it('makes one request when Claude answers without tools', async () => {
    fake.server.enqueue(streamReply(textMessage('I cannot know the weather.')));

    expect(await run()).toBe('I cannot know the weather.\n');
    expect(fake.server.requests).toHaveLength(1);
  });

  it('answers a call to an unknown tool with an error result', async () => {
    fake.server.enqueue(
      streamReply(toolUseMessage('get_time', { city: 'Paris' }, { toolUseId: 'toolu_time' })),
      streamReply(textMessage('Sorry.')),
    );

    await run();

    const followUp = fake.server.requests[1]!.body!['messages'] as { content: unknown }[];
    expect(followUp[2]!.content).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_time', content: 'Unknown tool get_time', is_error: true },
    ]);
  });

  it('gives up after five turns of tool calls', async () => {
    fake.server.respondWith(() => streamReply(toolUseMessage('get_weather', { city: 'Paris' })));

    await expect(run()).rejects.toThrow('Still calling tools after 5 turns');
    expect(fake.server.requests).toHaveLength(5);
  });

  it('plays its demo script when run without an API key', async () => {
    demo(fake.server);

    expect(await run()).toBe(
      "I'll check the weather in both cities.\n" +
        '[calling get_weather {"city":"Paris"}]\n' +
        '[calling get_weather {"city":"Tokyo"}]\n' +
        '[result Paris: sunny, 21 °C]\n' +
        '[result Tokyo: light rain, 16 °C]\n' +
        'Paris is sunny at 21 °C, while Tokyo has light rain at 16 °C. Pack an umbrella for Tokyo!\n',
    );
    expect(fake.server.requests).toHaveLength(2);
  });
});
