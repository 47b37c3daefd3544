import { createParser } from 'eventsource-parser';
import { STORY } from '../../samples/nest-app/fake-claude.js';
import { startDemo, postChat, type ReadEvent, type RunningDemo } from './support/demo-app.js';

// The demo's HTTP API, as the page uses it: validation, the tool loop, the error path, and a fuzz of bad bodies.
describe('nest-app demo: POST /api/chat', () => {
  let demo: RunningDemo;

  beforeAll(async () => {
    demo = await startDemo({ delayMs: 0 });
  });
  afterAll(async () => {
    await demo.close();
  });

  it('serves the page at / and says it runs on the fake server', async () => {
    const page = await fetch(`${demo.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<form id="ask">');
    expect(html).toContain('<script type="module" src="/page.js"></script>');
    const script = await fetch(`${demo.url}/page.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    // One module, rxjs and claude-rx/client inside: nothing left for the browser to resolve.
    const code = await script.text();
    expect(code).not.toMatch(/\bfrom\s*["'](?:rxjs|claude-rx)/);
    expect(code).toContain('/api/chat/stop');
    expect(code).toMatch(/\/\/# sourceMappingURL=page\.js\.map\s*$/);
    expect((await fetch(`${demo.url}/page.js.map`)).status).toBe(200);
    const info = await (await fetch(`${demo.url}/api/info`)).json();
    expect(info).toMatchObject({ mode: 'fake', model: 'claude-sonnet-5-5', maxPromptLength: 4000 });
  });

  it.each([
    ['no prompt', {}, 'prompt is required'],
    ['an empty prompt', { prompt: '' }, 'prompt must not be empty'],
    ['a blank prompt', { prompt: ' \n\t ' }, 'prompt must not be empty'],
    ['a prompt that is not a string', { prompt: 42 }, 'prompt must be a string'],
    ['a prompt too long', { prompt: 'x'.repeat(4001) }, 'prompt is too long: at most 4000 characters, got 4001'],
    ['an unknown option', { prompt: 'Hi', temperature: 2 }, 'unknown option "temperature"'],
    ['a model not allowed', { prompt: 'Hi', model: 'gpt-4' }, 'model must be one of: claude-sonnet-5-5'],
    ['max_tokens over the cap', { prompt: 'Hi', max_tokens: 100_000 }, 'max_tokens must be at most 4096'],
    ['max_tokens not an integer', { prompt: 'Hi', max_tokens: 1.5 }, 'max_tokens must be an integer from 1 to 4096'],
    ['max_tokens under the thinking budget', { prompt: 'Hi', max_tokens: 500 }, 'max_tokens must be more than 1024'],
    ['thinking not a boolean', { prompt: 'Hi', thinking: 'yes' }, 'thinking must be true or false'],
    ['an array', ['Hi'], 'the request body must be a JSON object'],
  ])('answers 400 with a clear message for %s, and asks Claude nothing', async (_name, body, message) => {
    const before = demo.fake.requests.length;
    const result = await postChat(demo.url, body);
    expect(result.status).toBe(400);
    expect(result.json).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect((result.json as { message: string }).message).toContain(message);
    expect(demo.fake.requests.length).toBe(before);
  });

  it('sends the checked request to Claude: trimmed prompt, model, max_tokens, thinking, the demo tool', async () => {
    const result = await postChat(demo.url, {
      prompt: '  A story, please  ',
      model: 'claude-haiku-4-5',
      thinking: false,
      max_tokens: 300,
    });
    expect(result.status).toBe(200);
    expect(result.events.at(-1)?.event).toBe('done');
    expect(demo.fake.lastRequest?.body).toMatchObject({
      model: 'claude-haiku-4-5',
      max_tokens: 300,
      stream: true,
      messages: [{ role: 'user', content: 'A story, please' }],
      tools: [{ name: 'get_weather' }],
    });
    expect(demo.fake.lastRequest?.body).not.toHaveProperty('thinking');
  });

  it('runs the tool Claude asks for and streams the next turn over the same response', async () => {
    const before = demo.fake.requests.length;
    const result = await postChat(demo.url, { prompt: "What's the weather in Paris?" });
    expect(result.status).toBe(200);

    const names = result.events.map((e) => e.event);
    const toolResult = result.events.find((e) => e.event === 'tool_result');
    expect(toolResult).toBeDefined();
    const data = JSON.parse(toolResult!.data);
    expect(data).toMatchObject({ name: 'get_weather', input: { city: 'Paris' }, is_error: false });
    expect(JSON.parse(data.content)).toMatchObject({ city: 'Paris' });
    // Two turns, each from message_start to message_stop, the tool result between them, and one done at the end.
    expect(names.filter((n) => n === 'message_start')).toHaveLength(2);
    expect(names.filter((n) => n === 'turn_start' || n === 'turn_end')).toEqual([
      'turn_start',
      'turn_end',
      'turn_start',
      'turn_end',
    ]);
    expect(names.indexOf('tool_result')).toBeGreaterThan(names.indexOf('message_stop'));
    expect(names.filter((n) => n === 'done')).toEqual(['done']);
    expect(names.at(-1)).toBe('done');
    // Resumable: every id is `<stream id>.<position>`, one stream, positions one after another.
    const ids = result.events.map((e) => /^([\w-]{22})\.(\d+)$/.exec(e.id ?? '') ?? ['', '', 'NaN']);
    expect(new Set(ids.map(([, stream]) => stream)).size).toBe(1);
    const positions = ids.map(([, , position]) => Number(position));
    expect(positions).toEqual(positions.map((_, i) => positions[0]! + i));

    // At the server: the second request carries Claude's tool call back, then its result for the same id.
    const requests = demo.fake.requests.slice(before);
    expect(requests).toHaveLength(2);
    const messages = requests[1]!.body!['messages'] as { role: string; content: unknown }[];
    expect(messages).toHaveLength(3);
    const assistant = messages[1]!.content as { type: string; id?: string; signature?: string }[];
    expect(assistant.map((b) => b.type)).toEqual(['thinking', 'text', 'tool_use']);
    expect(assistant[0]!.signature).toBe('sig-weather');
    // runTools sends `is_error` only for a failed call.
    expect(messages[2]!.content).toEqual([
      { type: 'tool_result', tool_use_id: data.tool_use_id, content: data.content },
    ]);
    expect(assistant[2]!.id).toBe(data.tool_use_id);
  });

  it('reports a mid-stream overload as an error event after the text so far, without done', async () => {
    const result = await postChat(demo.url, { prompt: 'Tell me a story, but overload' });
    expect(result.status).toBe(200);
    const last = result.events.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toEqual({
      type: 'overloaded_error',
      message: 'Claude is overloaded; try again later.',
      retryable: true,
    });
    expect(result.events.some((e) => e.event === 'content_block_delta' && e.data.includes('text_delta'))).toBe(true);
    expect(result.events.some((e) => e.event === 'done')).toBe(false);
  });

  describe('resume mode', () => {
    // Paced, so that a stream is still live while the test drops its connection or stops it.
    let paced: RunningDemo;
    beforeAll(async () => {
      paced = await startDemo({ delayMs: 5 });
    });
    afterAll(async () => {
      await paced.close();
    });

    /** Opens `POST /api/chat` and hands out its events as they come; `close()` drops the connection. */
    async function openChat(url: string, headers: Record<string, string> = {}) {
      const controller = new AbortController();
      const response = await fetch(`${url}/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: JSON.stringify({ prompt: 'A story, please' }),
        signal: controller.signal,
      });
      const events: ReadEvent[] = [];
      let wake = () => undefined as void;
      let ended = false;
      const parser = createParser({
        onEvent: (e) => {
          events.push({ event: e.event ?? 'message', id: e.id, data: e.data });
          wake();
        },
      });
      const reading = (async () => {
        const decoder = new TextDecoder();
        try {
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            parser.feed(decoder.decode(chunk, { stream: true }));
          }
        } catch {
          // dropped by close()
        } finally {
          ended = true;
          wake();
        }
      })();
      return {
        status: response.status,
        events,
        /** Resolves once `test` holds for the events so far, or the body has ended. */
        async until(test: (events: ReadEvent[]) => boolean): Promise<void> {
          while (!test(events) && !ended) await new Promise<void>((resolve) => (wake = resolve));
        },
        async end(): Promise<void> {
          await reading;
        },
        close(): void {
          controller.abort();
        },
      };
    }

    const text = (events: ReadEvent[]) =>
      events
        .filter((e) => e.event === 'content_block_delta' && e.data.includes('"text_delta"'))
        .map((e) => (JSON.parse(e.data) as { delta: { text: string } }).delta.text)
        .join('');

    it('resumes a dropped connection on the same route with Last-Event-ID: the rest, once, from one upstream request', async () => {
      const before = paced.fake.requests.length;
      const first = await openChat(paced.url);
      expect(first.status).toBe(200);
      await first.until((events) => text(events).length > 100);
      first.close();
      await first.end();
      const lastId = first.events.at(-1)!.id!;

      const second = await openChat(paced.url, { 'last-event-id': lastId });
      expect(second.status).toBe(200);
      await second.end();
      expect(second.events.at(-1)?.event).toBe('done');
      expect(text(first.events) + text(second.events)).toBe(STORY);

      const requests = paced.fake.requests.slice(before);
      expect(requests).toHaveLength(1);
      await requests[0]!.closed;
      expect(requests[0]!.completed).toBe(true);

      // The final event's id: nothing more to read (204, which stops an EventSource).
      const after = await fetch(`${paced.url}/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'last-event-id': second.events.at(-1)!.id! },
        body: JSON.stringify({ prompt: 'A story, please' }),
      });
      expect(after.status).toBe(204);
      expect(paced.fake.requests.length).toBe(before + 1);
    });

    it.each([
      ['an unknown stream', 404, 'AAAAAAAAAAAAAAAAAAAAAA.3'],
      ['something that is no event id', 400, 'not-an-id'],
    ])('answers a Last-Event-ID of %s with %i, and asks Claude nothing', async (_name, status, id) => {
      const before = paced.fake.requests.length;
      const response = await fetch(`${paced.url}/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'last-event-id': id },
        body: JSON.stringify({ prompt: 'A story, please' }),
      });
      expect(response.status).toBe(status);
      expect(paced.fake.requests.length).toBe(before);
    });

    it('POST /api/chat/stop { id } aborts the upstream request at once and ends the stream with stopped', async () => {
      const before = paced.fake.requests.length;
      const chat = await openChat(paced.url);
      await chat.until((events) => text(events).length > 20);
      const streamId = chat.events[0]!.id!.split('.')[0]!;

      const stopAt = performance.now();
      const stop = await fetch(`${paced.url}/api/chat/stop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: streamId }),
      });
      expect(stop.status).toBe(200);
      expect(await stop.json()).toEqual({ stopped: true });
      await chat.end();
      expect(chat.events.at(-1)).toMatchObject({ event: 'stopped', data: '{"reason":"stop"}' });

      const requests = paced.fake.requests.slice(before);
      expect(requests).toHaveLength(1);
      await requests[0]!.closed;
      expect(requests[0]!.completed).toBe(false);
      expect(requests[0]!.closedAt! - stopAt).toBeLessThan(1_000);

      // Over already: nothing to stop.
      const again = await fetch(`${paced.url}/api/chat/stop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: streamId }),
      });
      expect(await again.json()).toEqual({ stopped: false });
    });

    it.each([
      ['no id', {}],
      ['an id that is not a string', { id: 42 }],
      ['an id that is no stream id', { id: 'nope' }],
    ])('answers a stop with %s with 400', async (_name, body) => {
      const response = await fetch(`${paced.url}/api/chat/stop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(400);
    });
  });

  describe('fuzz', () => {
    // A small deterministic PRNG, so that a failure can be replayed with the same seed.
    function prng(seed: number): () => number {
      let state = seed >>> 0;
      return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    function randomValue(random: () => number, depth = 0): unknown {
      const pick = Math.floor(random() * (depth > 2 ? 7 : 9));
      const length = [0, 1, 5, 100, 4000, 4001, 9000][Math.floor(random() * 7)]!;
      switch (pick) {
        case 0:
          return null;
        case 1:
          return random() < 0.5;
        case 2:
          return [0, -1, 1, 1024, 1025, 4096, 4097, 1.5, -0, 1e308, Number.MAX_SAFE_INTEGER][Math.floor(random() * 11)];
        case 3:
          return 'é🐋\u0000<script>'.repeat(Math.ceil(length / 12)).slice(0, length);
        case 4:
          return 'a'.repeat(length);
        case 5:
          return ['claude-sonnet-5-5', 'claude-haiku-4-5', 'claude-x', '', '__proto__'][Math.floor(random() * 5)];
        case 6:
          return `weather in Paris ${'z'.repeat(Math.floor(random() * 50))}`;
        case 7:
          return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
        default:
          return randomBody(random, depth + 1);
      }
    }

    function randomBody(random: () => number, depth = 0): Record<string, unknown> {
      const keys = [
        'prompt',
        'model',
        'max_tokens',
        'thinking',
        'constructor',
        '__proto__',
        'stream',
        'messages',
        'system',
      ];
      const body: Record<string, unknown> = {};
      const count = Math.floor(random() * 5);
      for (let i = 0; i < count; i++) {
        const key = random() < 0.7 ? keys[Math.floor(random() * 4)]! : keys[Math.floor(random() * keys.length)]!;
        Object.defineProperty(body, key, { value: randomValue(random, depth), enumerable: true, writable: true });
      }
      return body;
    }

    function randomRaw(random: () => number): { body: string; contentType: string } {
      const contentType = ['application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded'][
        Math.floor(random() * 4)
      ]!;
      const shape = random();
      if (shape < 0.65) return { body: JSON.stringify(randomBody(random)), contentType };
      if (shape < 0.8) return { body: JSON.stringify(randomValue(random)), contentType };
      const broken = [
        '{',
        '{"prompt":',
        '{"prompt":"hi"',
        'null',
        '"hi"',
        '[',
        '{"prompt":"\\ud800"}',
        'prompt=hi',
        '',
      ];
      return { body: broken[Math.floor(random() * broken.length)]!, contentType };
    }

    it('answers 300 random bodies with 2xx or 4xx only, and keeps serving', async () => {
      const random = prng(20_261_123);
      const statuses = new Map<number, number>();
      for (let i = 0; i < 300; i++) {
        const { body, contentType } = randomRaw(random);
        const controller = new AbortController();
        const response = await fetch(`${demo.url}/api/chat`, {
          method: 'POST',
          headers: { 'content-type': contentType, accept: 'text/event-stream' },
          body,
          signal: controller.signal,
        });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status >= 500)
          throw new Error(`HTTP ${response.status} for ${contentType} body ${body.slice(0, 200)}`);
        controller.abort(); // a stream that was accepted is not read: the client leaves, as a closed tab does
      }
      expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
      // Both outcomes were exercised: accepted streams and rejected bodies.
      expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
      expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
      expect((await fetch(`${demo.url}/api/info`)).status).toBe(200);
    });
  });
});
