import Anthropic from '@anthropic-ai/sdk';
import { errorReply, streamReply, textMessage, type FakeReply } from 'claude-rx/testing';
import { demo, main } from '../../samples/error-handling.js';
import { trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const answer = (value: string) => streamReply(textMessage(value));

async function run(...replies: FakeReply[]): Promise<string[]> {
  fake.server.enqueue(...replies);
  const lines: string[] = [];
  await main(fake.client, (line) => lines.push(line));
  return lines;
}

describe('samples/error-handling', () => {
  it('prints the answers when nothing fails (case 3 always asks for an unknown model)', async () => {
    const lines = await run(answer('Tides.'), answer('Bonjour'), answer('Hi'), answer('One, two.'));

    expect(lines).toEqual([
      '1. Connection lost mid-answer',
      'Answer: Tides.',
      '2. Rate limited',
      'Answer: Bonjour',
      '3. API error',
      'Answer: Hi',
      '4. Stalled stream',
      'Answer: One, two.',
    ]);
    expect(fake.server.requests[2]!.body!['model']).toBe('claude-no-such-model');
  });

  it('keeps the partial answer when the connection is lost mid-stream', async () => {
    const lines = await run(
      streamReply(textMessage('The Moon pulls the sea.', { chunkSize: 4 }), { resetAfter: 5 }),
      answer('Bonjour'),
      answer('Hi'),
      answer('One.'),
    );

    expect(lines[1]).toBe('Connection lost; the partial answer is kept: "The Moon pul"');
  });

  it('retries a rate-limited request after the wait the server asked for, reporting the retry', async () => {
    const lines = await run(
      answer('Tides.'),
      errorReply(429, { retryAfterMs: 30 }),
      answer('Bonjour'),
      answer('Hi'),
      answer('One.'),
    );

    expect(lines.slice(2, 5)).toEqual([
      '2. Rate limited',
      'Rate limited (429 rate_limit_error); retry 1 in 30 ms',
      'Answer: Bonjour',
    ]);
    expect(fake.server.requests).toHaveLength(5);
    expect(fake.server.requests[2]!.body).toEqual(fake.server.requests[1]!.body);
  });

  it('rejects with the last RateLimitError when the retries run out', async () => {
    const limited = errorReply(429, { retryAfterMs: 1 });
    fake.server.enqueue(answer('Tides.'), limited, limited, limited, limited);

    await expect(main(fake.client, () => undefined)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    expect(fake.server.requests).toHaveLength(5);
  });

  it.each([
    [errorReply(404, { message: 'model: claude-no-such-model' }), () => 'Not found (404): model: claude-no-such-model'],
    [errorReply(401), () => 'Authentication failed (401): check ANTHROPIC_API_KEY'],
    [
      errorReply(500),
      () => `API error 500 api_error: Internal server error (request-id ${fake.server.requests[2]!.requestId})`,
    ],
    [
      streamReply(textMessage('Hi'), {
        errorAfter: { events: 2, error: { type: 'overloaded_error', message: 'Overloaded' } },
      }),
      () => `API error (mid-stream) overloaded_error: Overloaded (request-id ${fake.server.requests[2]!.requestId})`,
    ],
  ])('classifies an API error by its class (%#)', async (reply, expected) => {
    const lines = await run(answer('Tides.'), answer('Bonjour'), reply, answer('One.'));

    expect(lines.slice(4, 6)).toEqual(['3. API error', expected()]);
    expect(lines[7]).toBe('Answer: One.');
  });

  it('rethrows an error it does not handle', async () => {
    fake.server.enqueue(errorReply(400));

    await expect(main(fake.client, () => undefined)).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('gives up on a stalled stream and aborts its request', async () => {
    const lines = await run(
      answer('Tides.'),
      answer('Bonjour'),
      answer('Hi'),
      streamReply(textMessage('One, two, three.', { chunkSize: 4 }), { stallAfter: 4 }),
    );

    expect(lines[7]).toBe(
      'Gave up: No stream event arrived within 2000 ms of the previous one (4 events seen); the request was aborted',
    );
    const stalled = fake.server.requests[3]!;
    await stalled.closed;
    expect(stalled.closedByClient).toBe(true);
  });

  it('plays its demo script when run without an API key', async () => {
    demo(fake.server);
    const lines: string[] = [];

    await main(fake.client, (line) => lines.push(line));

    expect(lines).toEqual([
      '1. Connection lost mid-answer',
      'Connection lost; the partial answer is kept: "The Moon pulls on the oceans, ra"',
      '2. Rate limited',
      'Rate limited (429 rate_limit_error); retry 1 in 500 ms',
      'Answer: Bonjour !',
      '3. API error',
      'Not found (404): model: claude-no-such-model',
      '4. Stalled stream',
      'Gave up: No stream event arrived within 2000 ms of the previous one (5 events seen); the request was aborted',
    ]);
    expect(fake.server.requests).toHaveLength(5);
  });
});
