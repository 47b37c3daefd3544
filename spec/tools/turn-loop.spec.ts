import type Anthropic from '@anthropic-ai/sdk';
import { of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { defineTool, MaxTurnsExceededError, type ClaudeRxEvent, type ClaudeStreamEvent } from 'claude-rx';
import { textMessage, toolUseMessage } from 'claude-rx/testing';
import { prepareTools } from '../../lib/tools/prepare-tools.js';
import { turnLoop } from '../../lib/tools/turn-loop.js';

// The turn loop over an injected request function, in virtual time: no client, no server.

const QUESTION: Anthropic.Messages.MessageParam[] = [{ role: 'user', content: 'Time?' }];

/** One marble frame per event: `a`, `b`, ..., then completion. */
function marblesOf(events: readonly ClaudeStreamEvent[]): {
  marbles: string;
  values: Record<string, ClaudeStreamEvent>;
} {
  const values: Record<string, ClaudeStreamEvent> = {};
  const keys = events.map((event, i) => {
    const key = String.fromCharCode(97 + i);
    values[key] = event;
    return key;
  });
  return { marbles: `${keys.join('')}|`, values };
}

/** What a run emitted, as `frame:type` for the markers and the message boundaries. */
function timeline(scheduler: TestScheduler, seen: string[]) {
  return (event: ClaudeRxEvent) => {
    if (event.type === 'content_block_delta' || event.type === 'content_block_start') return;
    if (event.type === 'content_block_stop' || event.type === 'message_delta') return;
    seen.push(`${scheduler.now()}:${event.type}`);
  };
}

describe('turnLoop (marbles)', () => {
  it('sends the next turn when the tool, 5 frames long, has answered; the conversation carries its result', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const seen: string[] = [];
    const sent: Anthropic.Messages.MessageParam[][] = [];
    scheduler.run(({ cold, flush }) => {
      const call = marblesOf(toolUseMessage('now', {}, { toolUseId: 'toolu_1' }));
      const answer = marblesOf(textMessage('Noon.'));
      const now = defineTool({
        name: 'now',
        inputSchema: { type: 'object' },
        run: () => cold('-----(n|)', { n: 'noon' }),
      });
      turnLoop(QUESTION, {
        request: (messages, turn) => {
          sent.push(messages);
          return turn === 1 ? cold(call.marbles, call.values) : cold(answer.marbles, answer.values);
        },
        tools: prepareTools([now], []),
        maxTurns: 3,
        concurrency: 1,
      }).subscribe(timeline(scheduler, seen));
      flush();
      const n1 = Object.keys(call.values).length;
      const n2 = Object.keys(answer.values).length;
      expect(seen).toEqual([
        '0:turn_start',
        '0:message_start',
        `${n1 - 1}:message_stop`,
        `${n1}:turn_end`,
        `${n1 + 5}:tool_result`,
        `${n1 + 5}:turn_start`,
        `${n1 + 5}:message_start`,
        `${n1 + 5 + n2 - 1}:message_stop`,
        `${n1 + 5 + n2}:turn_end`,
      ]);
    });
    expect(sent).toHaveLength(2);
    expect(sent[1]!.at(-1)).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'noon' }],
    });
  });

  it('applies perRequest to each request, and fails with MaxTurnsExceededError after maxTurns', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    let failure: unknown;
    let failedAt = -1;
    const wrapped: number[] = [];
    let frames = 0;
    scheduler.run(({ cold, flush }) => {
      const call = marblesOf(toolUseMessage('now', {}));
      frames = Object.keys(call.values).length;
      const now = defineTool({ name: 'now', inputSchema: { type: 'object' }, run: () => of('noon') });
      turnLoop(QUESTION, {
        request: () => cold(call.marbles, call.values),
        tools: prepareTools([now], []),
        maxTurns: 2,
        concurrency: 1,
        perRequest: (events, turn) => {
          wrapped.push(turn);
          return events;
        },
      }).subscribe({
        error: (error: unknown) => {
          failure = error;
          failedAt = scheduler.now();
        },
      });
      flush();
    });
    expect(failure).toBeInstanceOf(MaxTurnsExceededError);
    // Two requests of `frames` frames each; the tool answers at once.
    expect(failedAt).toBe(2 * frames);
    expect(wrapped).toEqual([1, 2]);
  });
});
