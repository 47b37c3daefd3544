import { take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { claudeStream, thinkingOnly, type ClaudeRxEvent } from 'claude-rx';
import { messageEvents, redactedThinking, streamReply, text, thinking, thinkingMessage } from 'claude-rx/testing';
import { collect, PARAMS, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const ev = (event: object) => event as ClaudeRxEvent;
const E = {
  s: ev({
    type: 'message_start',
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 1 },
    },
  }),
  b: ev({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
  k: ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me ' } }),
  m: ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'think.' } }),
  g: ev({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig_1' } }),
  x: ev({ type: 'content_block_stop', index: 0 }),
  R: ev({
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'redacted_thinking', data: 'EncryptedData==' },
  }),
  t: ev({ type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'Answer' } }),
  j: ev({
    type: 'content_block_delta',
    index: 3,
    delta: { type: 'input_json_delta', partial_json: '{"thinking": "no"}' },
  }),
  d: ev({
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 5 },
  }),
  z: ev({ type: 'message_stop' }),
  r: ev({ type: 'stream_restart', attempt: 1, delayMs: 10, error: new Error('overloaded') }),
};

describe('thinkingOnly', () => {
  describe('marbles', () => {
    it('never emits for a source that never emits', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-', E);
        const subs = '                      ^';
        const expected = '                  -';
        expectObservable(source.pipe(thinkingOnly())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('completes with an empty source', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('|', E);
        const subs = '                      (^!)';
        const expected = '                  |';
        expectObservable(source.pipe(thinkingOnly())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits the thinking of one thinking_delta', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-k-|', E);
        const subs = '                      ^--!';
        const expected = '                  -a-|';
        expectObservable(source.pipe(thinkingOnly())).toBe(expected, { a: 'Let me ' });
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits each thinking_delta in order, and drops signatures, redacted thinking, text and tool input', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('s-b-k-m-g-x-R-t-j-r-d-z-|', E);
        const subs = '                      ^-----------------------!';
        const expected = '                  ----a-b-----------------|';
        expectObservable(source.pipe(thinkingOnly())).toBe(expected, { a: 'Let me ', b: 'think.' });
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it("passes the source's error through, after the thinking before it", () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = new Error('connection lost');
        const source = cold<ClaudeRxEvent>('-s-b-k-#', E, error);
        const subs = '                      ^------!';
        const expected = '                  -----a-#';
        expectObservable(source.pipe(thinkingOnly())).toBe(expected, { a: 'Let me ' }, error);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('unsubscribes the source when the subscriber unsubscribes early', () => {
      scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<ClaudeRxEvent>('-s-b-k-m-g-x-z-|', E);
        const unsub = '                    ^------!';
        const expected = '                 -----a--';
        expectObservable(source.pipe(thinkingOnly()), unsub).toBe(expected, { a: 'Let me ' });
        expectSubscriptions(source.subscriptions).toBe(unsub);
      });
    });
  });

  describe('against the fake server, with the real SDK', () => {
    it("joins to the SDK's final thinking text, leaving out the answer and the signature", async () => {
      const events = messageEvents([
        thinking('First, the weather: 😀 sunny. ', 'sig_secret', { chunkSize: 5 }),
        redactedThinking('EncryptedData=='),
        thinking('Then the answer.', 'sig_2', { chunkSize: 3 }),
        text('It is sunny.'),
      ]);
      fake.server.enqueue(streamReply(events, { chunkBytes: 7 }), streamReply(events, { chunkBytes: 7 }));
      const sdk = await fake.client.messages.stream(PARAMS).finalMessage();
      const sdkThinking = sdk.content.flatMap((block) => (block.type === 'thinking' ? [block.thinking] : [])).join('');

      const pieces = await collect(claudeStream(fake.client, PARAMS).pipe(thinkingOnly()));
      expect(pieces.join('')).toBe(sdkThinking);
      expect(pieces.join('')).toBe('First, the weather: 😀 sunny. Then the answer.');
      expect(pieces.join('')).not.toContain('sig_');
      expect(pieces).toHaveLength(
        events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'thinking_delta').length,
      );
    });

    it('closes the upstream request when the pipeline unsubscribes (take)', async () => {
      fake.server.enqueue(
        streamReply(thinkingMessage('Thinking for a long while...', 'never', { chunkSize: 8 }), { stallAfter: 5 }),
      );
      const pieces = await collect(claudeStream(fake.client, PARAMS).pipe(thinkingOnly(), take(1)));
      expect(pieces).toEqual(['Thinking']);
      const request = fake.server.requests[0]!;
      await request.closed;
      expect(request.closedByClient).toBe(true);
      expect(request.completed).toBe(false);
    });
  });
});
