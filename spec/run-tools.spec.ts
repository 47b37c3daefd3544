import { APIUserAbortError, type default as Anthropic } from '@anthropic-ai/sdk';
import { lastValueFrom, NEVER, Observable, toArray } from 'rxjs';
import { z } from 'zod';
import {
  accumulateMessage,
  claudeStream,
  defineTool,
  finalConversation,
  IncompleteStreamError,
  isRunToolsMarker,
  MaxTurnsExceededError,
  retryOnRateLimit,
  runTools,
  textOnly,
  withTurn,
  type RunnableTool,
  type RunToolsEvent,
  type ToolResultEvent,
  type TurnEndEvent,
} from 'claude-rx';
import {
  errorReply,
  messageEvents,
  redactedThinking,
  streamReply,
  text,
  textMessage,
  thinking,
  toolUse,
  toolUseMessage,
  type FakeReply,
  type RecordedRequest,
} from 'claude-rx/testing';
import { collect, errorOf, PARAMS, sleep, trackUnhandledRejections, useFakeClaude } from './support/harness.js';

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const QUESTION = { role: 'user', content: 'Weather and time in Paris?' } as const;
const PARAMS_TOOLS = { ...PARAMS, messages: [QUESTION] };

/** How many messages a request carries: 1 for the first turn, 3 for the second, 5 for the third. */
const turnOf = (request: RecordedRequest) => ((request.body?.['messages'] as unknown[]).length + 1) / 2;

const weatherTool = (calls: unknown[] = []): RunnableTool<{ city: string }> => ({
  name: 'get_weather',
  description: 'The current weather in a city.',
  inputSchema: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  run: (input) => {
    calls.push(input);
    return Promise.resolve(`${input.city}: sunny, 21 °C`);
  },
});

const timeTool = (calls: unknown[] = []): RunnableTool => ({
  name: 'get_time',
  inputSchema: { type: 'object', properties: { timezone: { type: 'string' } }, required: ['timezone'] },
  // An Observable: its last value is the result.
  run: (input) =>
    new Observable((subscriber) => {
      calls.push(input);
      subscriber.next('ignored');
      subscriber.next({ time: '14:05', timezone: (input as { timezone: string }).timezone });
      subscriber.complete();
    }),
});

/** Turn 1 thinks (signed), redacts, talks and calls get_weather; turn 2 calls get_time; turn 3 answers. */
const THREE_TURNS: Record<number, () => FakeReply> = {
  1: () =>
    streamReply(
      messageEvents(
        [
          thinking('The user wants weather and time.', 'sig_turn_1'),
          redactedThinking('redacted-bytes'),
          text('Let me check the weather.'),
          toolUse({ id: 'toolu_weather', name: 'get_weather', input: { city: 'Paris' }, chunkSize: 3 }),
        ],
        { id: 'msg_turn_1', chunkSize: 5 },
      ),
    ),
  2: () =>
    streamReply(
      messageEvents([toolUse({ id: 'toolu_time', name: 'get_time', input: { timezone: 'Europe/Paris' } })], {
        id: 'msg_turn_2',
      }),
    ),
  3: () => streamReply(textMessage('Sunny, 21 °C, and it is 14:05 in Paris.', { id: 'msg_turn_3', chunkSize: 4 })),
};

function scriptThreeTurns(): void {
  fake.server.respondWith((request) => THREE_TURNS[turnOf(request)]!());
}

describe('runTools', () => {
  describe('a two-tool conversation over three turns', () => {
    it('streams every turn in order, framed by markers, and ends after the answer', async () => {
      scriptThreeTurns();

      const events = await collect(
        runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(), timeTool()] }).pipe(withTurn()),
      );

      const outline = events
        .filter(
          ({ event }) => isRunToolsMarker(event) || event.type === 'message_start' || event.type === 'message_stop',
        )
        .map(({ turn, event }) => `${turn}:${event.type}`);
      expect(outline).toEqual([
        '1:turn_start',
        '1:message_start',
        '1:message_stop',
        '1:turn_end',
        '1:tool_result',
        '2:turn_start',
        '2:message_start',
        '2:message_stop',
        '2:turn_end',
        '2:tool_result',
        '3:turn_start',
        '3:message_start',
        '3:message_stop',
        '3:turn_end',
      ]);
      expect(fake.server.requests).toHaveLength(3);
    });

    it('passes every stream event of every turn through unchanged', async () => {
      const perTurn: unknown[][] = [];
      fake.server.respondWith((request) => {
        const reply = THREE_TURNS[turnOf(request)]!() as { events: readonly unknown[] };
        perTurn.push(JSON.parse(JSON.stringify(reply.events)) as unknown[]);
        return reply as FakeReply;
      });

      const events = await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(), timeTool()] }));

      expect(events.filter((event) => !isRunToolsMarker(event))).toEqual(perTurn.flat());
    });

    it('runs the tools with the parsed inputs and sends their results', async () => {
      scriptThreeTurns();
      const weatherCalls: unknown[] = [];
      const timeCalls: unknown[] = [];

      const results = (
        await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(weatherCalls), timeTool(timeCalls)] }))
      ).filter((event): event is ToolResultEvent => event.type === 'tool_result');

      expect(weatherCalls).toEqual([{ city: 'Paris' }]);
      expect(timeCalls).toEqual([{ timezone: 'Europe/Paris' }]);
      expect(results).toEqual([
        {
          type: 'tool_result',
          turn: 1,
          toolUseId: 'toolu_weather',
          name: 'get_weather',
          input: { city: 'Paris' },
          result: { type: 'tool_result', tool_use_id: 'toolu_weather', content: 'Paris: sunny, 21 °C' },
          isError: false,
        },
        {
          type: 'tool_result',
          turn: 2,
          toolUseId: 'toolu_time',
          name: 'get_time',
          input: { timezone: 'Europe/Paris' },
          result: {
            type: 'tool_result',
            tool_use_id: 'toolu_time',
            content: '{"time":"14:05","timezone":"Europe/Paris"}',
          },
          isError: false,
        },
      ]);
    });

    it('sends the whole conversation: thinking with its signature, redacted thinking, tool calls, then results', async () => {
      scriptThreeTurns();

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(), timeTool()] }));

      const [first, second, third] = fake.server.requests.map((request) => request.body!);
      expect(first!['messages']).toEqual([QUESTION]);
      const assistant1 = {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'The user wants weather and time.', signature: 'sig_turn_1' },
          { type: 'redacted_thinking', data: 'redacted-bytes' },
          expect.objectContaining({ type: 'text', text: 'Let me check the weather.' }),
          { type: 'tool_use', id: 'toolu_weather', name: 'get_weather', input: { city: 'Paris' } },
        ],
      };
      const results1 = {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_weather', content: 'Paris: sunny, 21 °C' }],
      };
      expect(second!['messages']).toEqual([QUESTION, assistant1, results1]);
      expect(third!['messages']).toEqual([
        QUESTION,
        assistant1,
        results1,
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_time', name: 'get_time', input: { timezone: 'Europe/Paris' } }],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_time',
              content: '{"time":"14:05","timezone":"Europe/Paris"}',
            },
          ],
        },
      ]);
      for (const body of [first, second, third]) {
        expect(body!['tools']).toEqual([
          {
            name: 'get_weather',
            description: 'The current weather in a city.',
            input_schema: weatherTool().inputSchema,
          },
          {
            name: 'get_time',
            input_schema: { type: 'object', properties: { timezone: { type: 'string' } }, required: ['timezone'] },
          },
        ]);
        expect(body!['model']).toBe(PARAMS.model);
        expect(body!['stream']).toBe(true);
      }
    });

    it('gives each turn the message the SDK finalMessage() gives', async () => {
      fake.server.enqueue(THREE_TURNS[1]!());
      // Without `parsed_output`, which only the SDK's MessageStream adds.
      const { parsed_output: _parsed, ...sdkMessage } = await fake.client.messages.stream(PARAMS_TOOLS).finalMessage();
      fake.server.reset();
      scriptThreeTurns();

      const turnEnds = (
        await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(), timeTool()] }))
      ).filter((event): event is TurnEndEvent => event.type === 'turn_end');

      expect(turnEnds.map((event) => event.turn)).toEqual([1, 2, 3]);
      expect(turnEnds[0]!.message).toEqual(sdkMessage);
      expect(Object.isFrozen(turnEnds[0]!.message.content)).toBe(true);
      expect(turnEnds[2]!.message.stop_reason).toBe('end_turn');
    });

    it('works with textOnly(), accumulateMessage() and finalConversation() on the whole run', async () => {
      scriptThreeTurns();
      const run$ = runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(), timeTool()] });

      const textFragments = await collect(run$.pipe(textOnly()));
      expect(textFragments.join('')).toBe('Let me check the weather.Sunny, 21 °C, and it is 14:05 in Paris.');

      const snapshots = await collect(run$.pipe(accumulateMessage()));
      const finalSnapshots = [...new Map(snapshots.map((snapshot) => [snapshot.id, snapshot])).values()];
      expect(finalSnapshots.map((message) => message.id)).toEqual(['msg_turn_1', 'msg_turn_2', 'msg_turn_3']);
      expect(finalSnapshots[2]!.content).toEqual([
        expect.objectContaining({ type: 'text', text: 'Sunny, 21 °C, and it is 14:05 in Paris.' }),
      ]);

      const conversation = await lastValueFrom(run$.pipe(finalConversation()));
      expect(conversation).toHaveLength(6);
      expect(conversation.slice(0, 5)).toEqual(fake.server.requests.at(-1)!.body!['messages']);
      expect(conversation[5]).toEqual({
        role: 'assistant',
        content: [expect.objectContaining({ type: 'text', text: 'Sunny, 21 °C, and it is 14:05 in Paris.' })],
      });
      expect(fake.server.requests).toHaveLength(9);
    });

    it('makes one request and runs nothing when Claude answers at once', async () => {
      fake.server.enqueue(streamReply(textMessage('No tools needed.')));
      const calls: unknown[] = [];

      const events = await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(calls)] }));

      expect(events.filter(isRunToolsMarker).map((event) => event.type)).toEqual(['turn_start', 'turn_end']);
      expect(calls).toEqual([]);
      expect(fake.server.requests).toHaveLength(1);
    });
  });

  describe('concurrency', () => {
    const TWO_CALLS = messageEvents([
      toolUse({ id: 'toolu_a', name: 'slow', input: { label: 'a' } }),
      toolUse({ id: 'toolu_b', name: 'slow', input: { label: 'b' } }),
    ]);

    function slowTool(intervals: Record<string, { start: number; end: number }>): RunnableTool<{ label: string }> {
      return {
        name: 'slow',
        inputSchema: { type: 'object', properties: { label: { type: 'string' } } },
        run: async ({ label }) => {
          const start = performance.now();
          await sleep(80);
          intervals[label] = { start, end: performance.now() };
          return label;
        },
      };
    }

    it('runs two tool calls of one turn at the same time', async () => {
      fake.server.enqueue(streamReply(TWO_CALLS), streamReply(textMessage('Done.')));
      const intervals: Record<string, { start: number; end: number }> = {};

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [slowTool(intervals)] }));

      const { a, b } = intervals;
      expect(a!.start).toBeLessThan(b!.end);
      expect(b!.start).toBeLessThan(a!.end);
    });

    it('runs them one after the other with concurrency 1, and sends the results in the order of the calls', async () => {
      fake.server.enqueue(streamReply(TWO_CALLS), streamReply(textMessage('Done.')));
      const intervals: Record<string, { start: number; end: number }> = {};

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [slowTool(intervals)], concurrency: 1 }));

      expect(intervals['b']!.start).toBeGreaterThanOrEqual(intervals['a']!.end);
      const results = (fake.server.requests[1]!.body!['messages'] as { content: unknown }[])[2]!.content;
      expect(results).toEqual([
        { type: 'tool_result', tool_use_id: 'toolu_a', content: 'a' },
        { type: 'tool_result', tool_use_id: 'toolu_b', content: 'b' },
      ]);
    });

    it('emits each result as it comes, and still sends them in the order of the calls', async () => {
      fake.server.enqueue(streamReply(TWO_CALLS), streamReply(textMessage('Done.')));
      const delays: Record<string, number> = { a: 60, b: 5 };
      const tool: RunnableTool<{ label: string }> = {
        name: 'slow',
        inputSchema: { type: 'object' },
        run: async ({ label }) => {
          await sleep(delays[label]!);
          return label;
        },
      };

      const events = await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [tool] }));

      const emitted = events.filter((event): event is ToolResultEvent => event.type === 'tool_result');
      expect(emitted.map((event) => event.toolUseId)).toEqual(['toolu_b', 'toolu_a']);
      const sent = (fake.server.requests[1]!.body!['messages'] as { content: { tool_use_id: string }[] }[])[2]!.content;
      expect(sent.map((block) => block.tool_use_id)).toEqual(['toolu_a', 'toolu_b']);
    });
  });

  describe('cancellation', () => {
    it('unsubscribing while a tool runs fires its signal and sends no further request', async () => {
      fake.server.enqueue(streamReply(toolUseMessage('wait', {})));
      fake.server.respondWith(() => streamReply(textMessage('should not be asked')));
      let toolSignal: AbortSignal | undefined;
      let started!: () => void;
      const toolStarted = new Promise<void>((resolve) => (started = resolve));
      const tool: RunnableTool = {
        name: 'wait',
        inputSchema: { type: 'object' },
        run: (_input, { signal }) => {
          toolSignal = signal;
          started();
          return new Promise((_resolve, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason as Error)),
          );
        },
      };

      const subscription = runTools(fake.client, PARAMS_TOOLS, { tools: [tool] }).subscribe();
      await toolStarted;
      expect(toolSignal!.aborted).toBe(false);
      subscription.unsubscribe();

      expect(toolSignal!.aborted).toBe(true);
      await sleep(50);
      expect(fake.server.requests).toHaveLength(1);
    });

    it('unsubscribing aborts every running tool, an Observable tool included', async () => {
      fake.server.enqueue(
        streamReply(
          messageEvents([toolUse({ name: 'promise', input: {} }), toolUse({ name: 'observable', input: {} })]),
        ),
      );
      const signals: AbortSignal[] = [];
      let observableTornDown = false;
      const tools: RunnableTool[] = [
        {
          name: 'promise',
          inputSchema: { type: 'object' },
          run: (_input, { signal }) => {
            signals.push(signal);
            return new Promise(() => {});
          },
        },
        {
          name: 'observable',
          inputSchema: { type: 'object' },
          run: (_input, { signal }) => {
            signals.push(signal);
            return new Observable(() => () => (observableTornDown = true));
          },
        },
      ];

      const subscription = runTools(fake.client, PARAMS_TOOLS, { tools }).subscribe();
      await waitUntil(() => signals.length === 2);
      subscription.unsubscribe();

      expect(signals.map((signal) => signal.aborted)).toEqual([true, true]);
      expect(observableTornDown).toBe(true);
    });

    it('unsubscribing mid-stream aborts the request', async () => {
      fake.server.enqueue(streamReply(toolUseMessage('wait', {}), { stallAfter: 3 }));
      const events: RunToolsEvent[] = [];
      const subscription = runTools(fake.client, PARAMS_TOOLS, { tools: [] }).subscribe((event) => events.push(event));
      const [request] = await fake.server.waitForRequests(1);
      await waitUntil(() => events.length >= 3);

      subscription.unsubscribe();

      await request!.closed;
      expect(request!.closedByClient).toBe(true);
    });

    it('does not abort a tool that has finished', async () => {
      fake.server.enqueue(streamReply(toolUseMessage('quick', {})), streamReply(textMessage('Done.')));
      let toolSignal: AbortSignal | undefined;
      const tool: RunnableTool = {
        name: 'quick',
        inputSchema: { type: 'object' },
        run: (_input, { signal }) => {
          toolSignal = signal;
          return 'ok';
        },
      };

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [tool] }));

      expect(toolSignal!.aborted).toBe(false);
    });

    it("the caller's signal aborts the running tools and fails as claudeStream does: APIUserAbortError", async () => {
      fake.server.enqueue(streamReply(toolUseMessage('wait', {})));
      const controller = new AbortController();
      let toolSignal: AbortSignal | undefined;
      const tool: RunnableTool = {
        name: 'wait',
        inputSchema: { type: 'object' },
        run: (_input, { signal }) => {
          toolSignal = signal;
          setTimeout(() => controller.abort(new Error('user left')), 10);
          return NEVER;
        },
      };

      const error = await errorOf(runTools(fake.client, PARAMS_TOOLS, { tools: [tool], signal: controller.signal }));

      expect(error).toBeInstanceOf(APIUserAbortError);
      expect(toolSignal!.aborted).toBe(true);
      expect(fake.server.requests).toHaveLength(1);
    });

    it("the caller's signal mid-stream fails the run as it fails claudeStream: IncompleteStreamError", async () => {
      fake.server.enqueue(streamReply(textMessage('Hello there, how are you?', { chunkSize: 4 }), { stallAfter: 4 }));
      const controller = new AbortController();
      const seen: unknown[] = [];
      const error = await new Promise((resolve) =>
        runTools(fake.client, PARAMS_TOOLS, { tools: [], signal: controller.signal }).subscribe({
          next: (event) => {
            seen.push(event);
            if (seen.length === 5) controller.abort(new Error('user left'));
          },
          error: resolve,
        }),
      );
      const direct = new AbortController();
      fake.server.enqueue(streamReply(textMessage('Hello there, how are you?', { chunkSize: 4 }), { stallAfter: 4 }));
      const streamError = await new Promise((resolve) => {
        let count = 0;
        claudeStream(fake.client, PARAMS_TOOLS, { signal: direct.signal }).subscribe({
          next: () => {
            if (++count === 4) direct.abort(new Error('user left'));
          },
          error: resolve,
        });
      });
      expect(error).toBeInstanceOf(IncompleteStreamError);
      expect(streamError).toBeInstanceOf(IncompleteStreamError);
      expect((error as IncompleteStreamError).cause).toEqual((streamError as IncompleteStreamError).cause);
      expect((error as IncompleteStreamError).partial?.content).toEqual([{ type: 'text', text: 'Hello th' }]);
    });

    it('an already aborted signal sends nothing', async () => {
      const reason = new Error('too late');

      const error = await errorOf(
        runTools(fake.client, PARAMS_TOOLS, { tools: [], signal: AbortSignal.abort(reason) }),
      );

      expect(error).toBeInstanceOf(APIUserAbortError);
      expect(fake.server.requests).toHaveLength(0);
    });
  });

  describe('tool failures come back to the model as is_error results', () => {
    it('answers invalid input, an unknown tool and a throwing tool with is_error results, and carries on', async () => {
      fake.server.enqueue(
        streamReply(
          messageEvents([
            toolUse({ id: 'toolu_invalid', name: 'get_weather', input: { city: 42, country: 'FR' } }),
            toolUse({ id: 'toolu_unknown', name: 'get_stock_price', input: { symbol: 'ACME' } }),
            toolUse({ id: 'toolu_throws', name: 'explode', input: {} }),
          ]),
        ),
        streamReply(textMessage('Sorry, something went wrong.')),
      );
      const weatherCalls: unknown[] = [];
      const explode: RunnableTool = {
        name: 'explode',
        inputSchema: { type: 'object' },
        run: () => {
          throw new RangeError('the tool broke');
        },
      };

      const events = await collect(
        runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(weatherCalls), explode] }),
      );

      expect(weatherCalls).toEqual([]);
      const sent = (fake.server.requests[1]!.body!['messages'] as { content: unknown }[])[2]!.content;
      expect(sent).toEqual([
        {
          type: 'tool_result',
          tool_use_id: 'toolu_invalid',
          content:
            'Invalid input for tool "get_weather": input: unexpected property "country"; ' +
            'input.city: expected string, got integer',
          is_error: true,
        },
        {
          type: 'tool_result',
          tool_use_id: 'toolu_unknown',
          content: 'Unknown tool "get_stock_price". Available tools: "get_weather", "explode".',
          is_error: true,
        },
        { type: 'tool_result', tool_use_id: 'toolu_throws', content: 'RangeError: the tool broke', is_error: true },
      ]);
      const results = events.filter((event): event is ToolResultEvent => event.type === 'tool_result');
      expect(results.map((event) => event.isError)).toEqual([true, true, true]);
      expect(results.find((event) => event.name === 'explode')!.error).toEqual(new RangeError('the tool broke'));
      expect(events.at(-1)!.type).toBe('turn_end');
    });

    it('answers a rejected promise and an erroring Observable with is_error results', async () => {
      fake.server.enqueue(
        streamReply(
          messageEvents([
            toolUse({ id: 'toolu_rejects', name: 'rejects', input: {} }),
            toolUse({ id: 'toolu_errors', name: 'errors', input: {} }),
            toolUse({ id: 'toolu_bigint', name: 'bigint', input: {} }),
          ]),
        ),
        streamReply(textMessage('OK.')),
      );
      const tools: RunnableTool[] = [
        { name: 'rejects', inputSchema: { type: 'object' }, run: () => Promise.reject(new Error('no network')) },
        {
          name: 'errors',
          inputSchema: { type: 'object' },
          run: () => new Observable((subscriber) => subscriber.error(new TypeError('bad stream'))),
        },
        { name: 'bigint', inputSchema: { type: 'object' }, run: () => () => 1 },
      ];

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools }));

      const sent = (fake.server.requests[1]!.body!['messages'] as { content: unknown }[])[2]!.content;
      expect(sent).toEqual([
        { type: 'tool_result', tool_use_id: 'toolu_rejects', content: 'Error: no network', is_error: true },
        { type: 'tool_result', tool_use_id: 'toolu_errors', content: 'TypeError: bad stream', is_error: true },
        {
          type: 'tool_result',
          tool_use_id: 'toolu_bigint',
          content: 'TypeError: the tool returned a value of type function, which has no JSON form',
          is_error: true,
        },
      ]);
    });

    it('sends content blocks and undefined as they are', async () => {
      fake.server.enqueue(
        streamReply(
          messageEvents([
            toolUse({ id: 'toolu_blocks', name: 'blocks', input: {} }),
            toolUse({ id: 'toolu_nothing', name: 'nothing', input: {} }),
          ]),
        ),
        streamReply(textMessage('OK.')),
      );
      const tools: RunnableTool[] = [
        {
          name: 'blocks',
          inputSchema: { type: 'object' },
          run: () => [
            { type: 'text', text: 'line 1' },
            { type: 'text', text: 'line 2' },
          ],
        },
        { name: 'nothing', inputSchema: { type: 'object' }, run: () => undefined },
      ];

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools }));

      const sent = (fake.server.requests[1]!.body!['messages'] as { content: unknown }[])[2]!.content;
      expect(sent).toEqual([
        {
          type: 'tool_result',
          tool_use_id: 'toolu_blocks',
          content: [
            { type: 'text', text: 'line 1' },
            { type: 'text', text: 'line 2' },
          ],
        },
        { type: 'tool_result', tool_use_id: 'toolu_nothing' },
      ]);
    });
  });

  describe('zod schemas', () => {
    const weather = defineTool({
      name: 'get_weather',
      description: 'The weather.',
      inputSchema: z.object({ city: z.string().min(1), unit: z.enum(['C', 'F']).default('C') }),
      run: ({ city, unit }) => `${city}: 21 °${unit}`,
    });

    it('sends the JSON schema of a zod schema and runs the tool on the parsed input', async () => {
      fake.server.enqueue(
        streamReply(toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_1' })),
        streamReply(textMessage('OK.')),
      );

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [weather] }));

      const tools = fake.server.requests[0]!.body!['tools'] as Anthropic.Tool[];
      expect(tools).toEqual([
        {
          name: 'get_weather',
          description: 'The weather.',
          input_schema: expect.objectContaining({
            type: 'object',
            properties: { city: { type: 'string', minLength: 1 }, unit: expect.objectContaining({ enum: ['C', 'F'] }) },
            required: ['city'],
          }),
        },
      ]);
      const sent = (fake.server.requests[1]!.body!['messages'] as { content: unknown }[])[2]!.content;
      expect(sent).toEqual([{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Paris: 21 °C' }]);
    });

    it('refuses a schema without a JSON Schema form, unless jsonSchema is given', () => {
      const jsonSchema = { type: 'object' as const, properties: { at: { type: 'string' } } };
      const dated = defineTool({ name: 'dated', inputSchema: z.object({ at: z.date() }), run: () => 'ok' });

      expect(() => runTools(fake.client, PARAMS_TOOLS, { tools: [dated] })).toThrow(
        'runTools: tool "dated": its zod schema has no JSON Schema form; pass one as jsonSchema',
      );
      expect(() => runTools(fake.client, PARAMS_TOOLS, { tools: [{ ...dated, jsonSchema }] })).not.toThrow();
    });

    it('sends jsonSchema as the input_schema', async () => {
      const jsonSchema = { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] };
      fake.server.enqueue(streamReply(textMessage('OK.')));

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [{ ...weather, jsonSchema }] }));

      expect(fake.server.requests[0]!.body!['tools']).toEqual([
        { name: 'get_weather', description: 'The weather.', input_schema: jsonSchema },
      ]);
    });

    it("answers input that the zod schema rejects with zod's issues", async () => {
      fake.server.enqueue(
        streamReply(toolUseMessage('get_weather', { city: '', unit: 'K' }, { toolUseId: 'toolu_1' })),
        streamReply(textMessage('OK.')),
      );

      await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [weather] }));

      const [result] = (fake.server.requests[1]!.body!['messages'] as { content: { content: string }[] }[])[2]!.content;
      expect(result).toMatchObject({ tool_use_id: 'toolu_1', is_error: true });
      expect(result!.content).toMatch(/^Invalid input for tool "get_weather": input\.city: .+; input\.unit: .+/);
    });
  });

  describe('maxTurns', () => {
    it('stops a model that keeps calling tools with MaxTurnsExceededError', async () => {
      fake.server.respondWith(() => streamReply(toolUseMessage('get_weather', { city: 'Paris' })));
      const calls: unknown[] = [];

      const error = await errorOf(runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool(calls)], maxTurns: 3 }));

      expect(error).toBeInstanceOf(MaxTurnsExceededError);
      const maxTurnsError = error as MaxTurnsExceededError;
      expect(maxTurnsError.name).toBe('MaxTurnsExceededError');
      expect(maxTurnsError.turns).toBe(3);
      expect(maxTurnsError.message).toBe('Claude still called tools after 3 turns (maxTurns)');
      expect(fake.server.requests).toHaveLength(3);
      // The tools of the last turn are not run: its tool call is the last message.
      expect(calls).toHaveLength(2);
      expect(maxTurnsError.messages).toHaveLength(6);
      expect(maxTurnsError.messages.slice(0, 5)).toEqual(fake.server.requests[2]!.body!['messages']);
      expect(maxTurnsError.messages[5]).toMatchObject({ role: 'assistant', content: [{ type: 'tool_use' }] });
    });

    it('defaults to 10 turns', async () => {
      fake.server.respondWith(() => streamReply(toolUseMessage('get_weather', { city: 'Paris' })));

      const error = await errorOf(runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool()] }));

      expect((error as MaxTurnsExceededError).turns).toBe(10);
      expect(fake.server.requests).toHaveLength(10);
    });

    it('counts pause_turn continuations, which carry on without tool results', async () => {
      fake.server.enqueue(
        streamReply(messageEvents([text('Searching...')], { stopReason: 'pause_turn' })),
        streamReply(textMessage('Found it.')),
      );

      const conversation = await lastValueFrom(
        runTools(fake.client, PARAMS_TOOLS, { tools: [] }).pipe(finalConversation()),
      );

      expect(fake.server.requests[1]!.body!['messages']).toEqual([
        QUESTION,
        { role: 'assistant', content: [expect.objectContaining({ type: 'text', text: 'Searching...' })] },
      ]);
      expect(conversation).toHaveLength(3);
    });
  });

  describe('perRequest operators', () => {
    it('retries a rate-limited request of the second turn only', async () => {
      fake.server.enqueue(
        streamReply(toolUseMessage('get_weather', { city: 'Paris' })),
        errorReply(429, { retryAfterMs: 5 }),
        streamReply(textMessage('Sunny.')),
      );
      const turnsSeen: number[] = [];

      const text = await collect(
        runTools(fake.client, PARAMS_TOOLS, {
          tools: [weatherTool()],
          perRequest: (events, turn) => {
            turnsSeen.push(turn);
            return events.pipe(retryOnRateLimit({ maxRetries: 1 }));
          },
        }).pipe(textOnly()),
      );

      expect(text.join('')).toBe('Sunny.');
      expect(turnsSeen).toEqual([1, 2]);
      const bodies = fake.server.requests.map((request) => request.body!['messages'] as unknown[]);
      expect(bodies.map((messages) => messages.length)).toEqual([1, 3, 3]);
    });

    it('errors with what a request fails with', async () => {
      fake.server.enqueue(streamReply(toolUseMessage('get_weather', { city: 'Paris' })), errorReply(400));

      const error = await errorOf(runTools(fake.client, PARAMS_TOOLS, { tools: [weatherTool()] }));

      expect((error as { status?: number }).status).toBe(400);
    });
  });

  describe('options', () => {
    it('throws a TypeError naming a bad option at once', () => {
      const tool = weatherTool();
      const run =
        (options: object, params: object = PARAMS_TOOLS) =>
        () =>
          runTools(fake.client, params as typeof PARAMS_TOOLS, options as { tools: RunnableTool[] });
      expect(run({ tools: [tool], maxTurns: 0 })).toThrow(
        new TypeError('runTools: maxTurns must be a positive integer, got 0'),
      );
      expect(run({ tools: [tool], concurrency: 1.5 })).toThrow(/concurrency must be a positive integer or Infinity/);
      expect(run({ tools: 'get_weather' })).toThrow('runTools: tools must be an array of tools');
      expect(run({ tools: [tool, tool] })).toThrow('runTools: two tools are named "get_weather"');
      expect(run({ tools: [{ ...tool, run: undefined }] })).toThrow('needs a run function');
      expect(run({ tools: [{ ...tool, inputSchema: { type: 'string' } }] })).toThrow(/must have type "object"/);
      expect(run({ tools: [tool], perRequest: 'retry' })).toThrow(/perRequest must be a function/);
      expect(run({ tools: [tool] }, { ...PARAMS, messages: undefined })).toThrow(/messages array/);
      expect(fake.server.requests).toHaveLength(0);
    });

    it("takes tools in the API's shape (input_schema): sent as they are but for run, input checked", async () => {
      fake.server.enqueue(
        streamReply(toolUseMessage('get_time', { zone: 3 })),
        streamReply(toolUseMessage('get_time', { zone: 'Europe/Paris' })),
        streamReply(textMessage('Noon.')),
      );
      const runs: unknown[] = [];
      const getTime = defineTool<{ zone: string }>({
        name: 'get_time',
        description: 'The time in a zone.',
        input_schema: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
        cache_control: { type: 'ephemeral' },
        run: ({ zone }) => {
          runs.push(zone);
          return `noon in ${zone}`;
        },
      });

      const events = await collect(runTools(fake.client, PARAMS_TOOLS, { tools: [getTime] }));

      expect(fake.server.requests[0]!.body!['tools']).toEqual([
        {
          name: 'get_time',
          description: 'The time in a zone.',
          input_schema: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
          cache_control: { type: 'ephemeral' },
        },
      ]);
      const results = events.filter((event): event is ToolResultEvent => event.type === 'tool_result');
      expect(results.map((result) => result.isError)).toEqual([true, false]);
      expect(runs).toEqual(['Europe/Paris']);
    });

    it('names what was expected for a tool of neither shape, or of both', () => {
      const run = (tool: object) => () => runTools(fake.client, PARAMS_TOOLS, { tools: [tool as RunnableTool] });
      const bare = { name: 'get_time', run: () => 'noon' };
      expect(run(bare)).toThrow(
        new TypeError(
          'runTools: tool "get_time" has no input schema: expected `{ name, description, inputSchema, run }` ' +
            "(inputSchema a JSON schema or a Standard Schema such as zod), or the API's shape " +
            '`{ name, description, input_schema, run }`',
        ),
      );
      const schema = { type: 'object' };
      expect(run({ ...bare, inputSchema: schema, input_schema: schema })).toThrow(
        /has both inputSchema and input_schema/,
      );
      expect(run({ ...bare, input_schema: z.object({}) })).toThrow(
        /input_schema must be a JSON schema; give a Standard/,
      );
      expect(run({ ...bare, input_schema: 'object' })).toThrow(/input_schema must be a JSON schema object/);
      expect(run({ ...bare, input_schema: schema, type: 'web_search_20250305' })).toThrow(/only custom tools run here/);
      expect(fake.server.requests).toHaveLength(0);
    });

    it('adds the tools to server tools of params, and mutates neither params nor options', async () => {
      fake.server.enqueue(streamReply(textMessage('OK.')));
      const webSearch: Anthropic.Messages.WebSearchTool20250305 = { type: 'web_search_20250305', name: 'web_search' };
      const params = { ...PARAMS_TOOLS, tools: [webSearch] };
      const options = { tools: [weatherTool()] };
      const before = JSON.stringify({ params, options });

      await collect(runTools(fake.client, params, options));

      expect(JSON.stringify({ params, options })).toBe(before);
      expect((fake.server.requests[0]!.body!['tools'] as { name: string }[]).map((tool) => tool.name)).toEqual([
        'web_search',
        'get_weather',
      ]);
    });

    it('is cold: nothing is sent before subscribe, and each subscription runs anew', async () => {
      fake.server.respondWith(() => streamReply(textMessage('OK.')));
      const run$ = runTools(fake.client, PARAMS_TOOLS, { tools: [] });
      await sleep(20);
      expect(fake.server.requests).toHaveLength(0);

      await lastValueFrom(run$.pipe(toArray()));
      await lastValueFrom(run$.pipe(toArray()));

      expect(fake.server.requests).toHaveLength(2);
    });
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}
