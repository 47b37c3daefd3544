import { take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { claudeStream, textOnly, type ClaudeRxEvent } from 'claude-rx';
import { messageEvents, streamReply, text, textMessage, thinking, toolUse } from 'claude-rx/testing';
import { collect, PARAMS, sleep, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const ev = (event: object) => event as ClaudeRxEvent;
const START = ev({
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
});
const textStart = (index: number) =>
  ev({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
const textDelta = (index: number, value: string) =>
  ev({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: value } });
const E = {
  s: START,
  b: textStart(1),
  h: textDelta(1, 'Hel'),
  l: textDelta(1, 'lo'),
  e: textDelta(1, ''),
  k: ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }),
  g: ev({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } }),
  c: ev({
    type: 'content_block_delta',
    index: 1,
    delta: {
      type: 'citations_delta',
      citation: {
        type: 'char_location',
        cited_text: 'x',
        document_index: 0,
        document_title: null,
        start_char_index: 0,
        end_char_index: 1,
        file_id: null,
      },
    },
  }),
  j: ev({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"text": "no"}' } }),
  x: ev({ type: 'content_block_stop', index: 1 }),
  d: ev({
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 5 },
  }),
  z: ev({ type: 'message_stop' }),
  r: ev({ type: 'stream_restart', attempt: 1, delayMs: 10, error: new Error('overloaded') }),
};

describe('textOnly', () => {
  describe('marbles', () => {
    it('never emits for a source that never emits', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-', E);
        const subs = '                      ^';
        const expected = '                  -';
        expectObservable(source.pipe(textOnly())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('completes with an empty source', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('|', E);
        const subs = '                      (^!)';
        const expected = '                  |';
        expectObservable(source.pipe(textOnly())).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits the text of one text_delta', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('-h-|', E);
        const subs = '                      ^--!';
        const expected = '                  -a-|';
        expectObservable(source.pipe(textOnly())).toBe(expected, { a: 'Hel' });
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('emits the text of each text_delta in order (empty ones too), and drops every other event', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<ClaudeRxEvent>('s-k-g-b-c-h-j-e-l-r-x-d-z-|', E);
        const subs = '                      ^-------------------------!';
        const expected = '                  ----------a---b-c---------|';
        expectObservable(source.pipe(textOnly())).toBe(expected, { a: 'Hel', b: '', c: 'lo' });
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it("passes the source's error through, after the text before it", () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = new Error('connection lost');
        const source = cold<ClaudeRxEvent>('-s-b-h-#', E, error);
        const subs = '                      ^------!';
        const expected = '                  -----a-#';
        expectObservable(source.pipe(textOnly())).toBe(expected, { a: 'Hel' }, error);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('unsubscribes the source when the subscriber unsubscribes early', () => {
      scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<ClaudeRxEvent>('-s-b-h-l-x-d-z-|', E);
        const unsub = '                    ^------!';
        const expected = '                 -----a--';
        expectObservable(source.pipe(textOnly()), unsub).toBe(expected, { a: 'Hel' });
        expectSubscriptions(source.subscriptions).toBe(unsub);
      });
    });
  });

  describe('against the fake server, with the real SDK', () => {
    it("joins to the SDK's final text, leaving out thinking and tool input", async () => {
      const events = messageEvents([
        thinking('Thinking, not answering.', 'sig', { chunkSize: 4 }),
        text('Héllo 😀 wörld, ', { chunkSize: 3 }),
        toolUse({ id: 'toolu_1', name: 'echo', input: { text: 'not the answer' } }),
        text('and more.', { chunkSize: 2 }),
      ]);
      fake.server.enqueue(streamReply(events, { chunkBytes: 5 }), streamReply(events, { chunkBytes: 5 }));
      const sdk = await fake.client.messages.stream(PARAMS).finalMessage();
      const sdkText = sdk.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');

      const pieces = await collect(claudeStream(fake.client, PARAMS).pipe(textOnly()));
      expect(pieces.join('')).toBe(sdkText);
      expect(pieces.join('')).toBe('Héllo 😀 wörld, and more.');
      const textDeltas = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'text_delta');
      expect(pieces).toHaveLength(textDeltas.length);
    });

    it('closes the upstream request when the pipeline unsubscribes (take)', async () => {
      fake.server.enqueue(
        streamReply(textMessage('A long answer that stalls midway', { chunkSize: 4 }), { stallAfter: 5 }),
      );
      const pieces = await collect(claudeStream(fake.client, PARAMS).pipe(textOnly(), take(2)));
      expect(pieces).toEqual(['A lo', 'ng a']);
      const request = fake.server.requests[0]!;
      await request.closed;
      expect(request.closedByClient).toBe(true);
      expect(request.completed).toBe(false);
    });

    it('closes the upstream request on an explicit unsubscribe, without error or completion', async () => {
      fake.server.enqueue(
        streamReply(textMessage('Hello there, how are you today?', { chunkSize: 5 }), { stallAfter: 4 }),
      );
      const seen: string[] = [];
      const outcome: string[] = [];
      const subscription = claudeStream(fake.client, PARAMS)
        .pipe(textOnly())
        .subscribe({
          next: (t) => seen.push(t),
          error: () => outcome.push('error'),
          complete: () => outcome.push('complete'),
        });
      const [request] = await fake.server.waitForRequests(1);
      while (seen.length < 2) await sleep(5);
      subscription.unsubscribe();
      await request!.closed;
      expect(request!.closedByClient).toBe(true);
      await sleep(20);
      expect(seen).toEqual(['Hello', ' ther']);
      expect(outcome).toEqual([]);
    });
  });
});
