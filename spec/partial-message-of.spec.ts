import { APIError } from '@anthropic-ai/sdk';
import {
  ChunkTimeoutError,
  claudeStream,
  finalMessage,
  IncompleteStreamError,
  partialMessageOf,
  timeoutBetweenChunks,
} from 'claude-rx';
import { errorReply, streamReply, textMessage } from 'claude-rx/testing';
import { errorOf, PARAMS, trackUnhandledRejections, useFakeClaude } from './support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const OVERLOADED = { type: 'overloaded_error', message: 'Overloaded' };

describe('partialMessageOf', () => {
  it("gives the message so far of a mid-stream event: error, which stays the SDK's APIError", async () => {
    // message_start, content_block_start, then two deltas of 4 characters.
    fake.server.enqueue(
      streamReply(textMessage('Hello there', { chunkSize: 4 }), { errorAfter: { events: 4, error: OVERLOADED } }),
    );
    const error = await errorOf(claudeStream(fake.client, PARAMS));
    expect(error).toBeInstanceOf(APIError);
    expect(Object.getPrototypeOf(error)).toBe(APIError.prototype);
    expect((error as APIError).type).toBe('overloaded_error');
    expect(Object.keys(error as object)).not.toContain('partial');
    const partial = partialMessageOf(error);
    expect(partial?.content).toEqual([{ type: 'text', text: 'Hello th' }]);
    expect(partial?.role).toBe('assistant');
  });

  it('gives the partial message of an IncompleteStreamError (a dropped connection)', async () => {
    fake.server.enqueue(streamReply(textMessage('Hello there', { chunkSize: 4 }), { resetAfter: 4 }));
    const error = await errorOf(claudeStream(fake.client, PARAMS));
    expect(error).toBeInstanceOf(IncompleteStreamError);
    expect(partialMessageOf(error)).toBe((error as IncompleteStreamError).partial);
    expect(partialMessageOf(error)?.content).toEqual([{ type: 'text', text: 'Hello th' }]);
  });

  it('gives the message so far of a timeout, through finalMessage()', async () => {
    fake.server.enqueue(streamReply(textMessage('Hello there', { chunkSize: 4 }), { stallAfter: 4 }));
    const error = await errorOf(claudeStream(fake.client, PARAMS).pipe(timeoutBetweenChunks(100), finalMessage()));
    expect(error).toBeInstanceOf(ChunkTimeoutError);
    expect(partialMessageOf(error)?.content).toEqual([{ type: 'text', text: 'Hello th' }]);
  });

  it('gives undefined for a failure before message_start, and for anything else', async () => {
    fake.server.enqueue(errorReply(529));
    const error = await errorOf(claudeStream(fake.client, PARAMS));
    expect(error).toBeInstanceOf(APIError);
    expect(partialMessageOf(error)).toBeUndefined();
    expect(partialMessageOf(new Error('other'))).toBeUndefined();
    expect(partialMessageOf('a string')).toBeUndefined();
    expect(partialMessageOf(undefined)).toBeUndefined();
  });
});
