import type Anthropic from '@anthropic-ai/sdk';
import { lastValueFrom } from 'rxjs';
import { claudeStream, finalMessage } from 'claude-rx';
import { streamReply, textMessage } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from '../../../samples/support/demo-client.js';

const params = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('samples/support/demo-client', () => {
  const savedKey = process.env['ANTHROPIC_API_KEY'];
  const consoleError = console.error;
  let errors: string[];

  beforeEach(() => {
    errors = [];
    console.error = (line: unknown) => void errors.push(String(line));
  });
  afterEach(() => {
    console.error = consoleError;
    process.exitCode = undefined;
    if (savedKey === undefined) delete process.env['ANTHROPIC_API_KEY'];
    else process.env['ANTHROPIC_API_KEY'] = savedKey;
  });

  it('without ANTHROPIC_API_KEY, runs main against a fake server playing the script, then stops the server', async () => {
    delete process.env['ANTHROPIC_API_KEY'];
    let client: Anthropic | undefined;
    let answer: unknown;

    await runDemo(
      (server) => server.enqueue(streamReply(textMessage('scripted'))),
      async (demoClient) => {
        client = demoClient;
        answer = (await lastValueFrom(claudeStream(demoClient, params).pipe(finalMessage()))).content;
      },
    );

    expect(answer).toEqual([expect.objectContaining({ type: 'text', text: 'scripted' })]);
    expect(client!.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(client!.maxRetries).toBe(0);
    expect(errors).toEqual([expect.stringContaining('fake Claude server')]);
    await expect(fetch(`${client!.baseURL}/v1/messages`, { method: 'POST', body: '{}' })).rejects.toThrow();
  });

  it('with ANTHROPIC_API_KEY, gives main a client for the real API and says so', async () => {
    process.env['ANTHROPIC_API_KEY'] = 'sk-ant-demo-test';
    let client: Anthropic | undefined;
    let scripted = false;

    await runDemo(
      () => (scripted = true),
      async (demoClient) => {
        client = demoClient;
      },
    );

    expect(client!.apiKey).toBe('sk-ant-demo-test');
    expect(client!.baseURL).not.toMatch(/127\.0\.0\.1/);
    expect(scripted).toBe(false);
    expect(errors).toEqual([`[claude-rx demo] Using the Claude API (model ${MODEL}).`]);
  });

  it('reports a failure of main in one line and sets exit code 1', async () => {
    delete process.env['ANTHROPIC_API_KEY'];

    await runDemo(
      () => undefined,
      async () => {
        throw new TypeError('bad things');
      },
    );

    expect(process.exitCode).toBe(1);
    expect(errors.at(-1)).toBe('\n[claude-rx demo] Failed: TypeError: bad things');
  });

  it('knows that a module imported by a test is not the entry point', () => {
    expect(isEntryPoint(import.meta)).toBe(false);
  });
});
