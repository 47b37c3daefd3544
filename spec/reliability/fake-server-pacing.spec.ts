import { firstValueFrom } from 'rxjs';
import { claudeStream } from 'claude-rx';
import { streamReply, textMessage } from 'claude-rx/testing';
import { PARAMS, useFakeClaude } from '../support/harness.js';

const claude = useFakeClaude();

describe('the fake server streams to a client in the same process', () => {
  it('as it writes: the first event arrives long before the last frame is written, even without a delay', async () => {
    const events = textMessage('x'.repeat(400), { chunkSize: 1 });
    claude.server.enqueue(streamReply(events));

    await firstValueFrom(claudeStream(claude.client, PARAMS));

    // Chained writes that complete at once used to starve the client until the whole body was out, so that a
    // timeout between chunks could fire on a healthy stream.
    expect(claude.server.lastRequest!.eventsWritten).toBeLessThan(events.length / 2);
  });
});
