import { startDemo, postChat, type RunningDemo } from './support/demo-app.js';

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
    expect(await page.text()).toContain('<form id="ask">');
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
    const ids = result.events.map((e) => Number(e.id));
    expect(ids).toEqual(ids.map((_, i) => i + 1));

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
