import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { STORY } from '../../samples/nest-app/fake-claude.js';
import { CuttableProxy } from '../support/cuttable-proxy.js';
import { startDemo, type RunningDemo } from './support/demo-app.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = '.artifacts/e2e';
const SCREENSHOT = `${ARTIFACTS}/nest-app.png`;

/** What the page showed, sampled at every animation frame from Send until the chat ended. */
interface Samples {
  readonly answer: number[];
  readonly thinking: number[];
  /** The states of `#status` seen, each once, in order. */
  readonly states: string[];
  /** The final state. */
  readonly state: string;
}

/** The states of a chat in progress. */
const RUNNING = ['waiting', 'streaming', 'reconnecting'];

// The `npm start` demo in headless Chromium, against the scripted fake Claude server.
describe('nest-app demo in a browser', () => {
  let demo: RunningDemo;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    // Installs Debian's chromium when missing (as root), so that a fresh CI machine needs no manual step.
    execFileSync(process.execPath, ['scripts/ensure-chromium.mjs'], { stdio: 'inherit' });
    // 15 ms per event: slow enough to see several paints and to press Stop mid-answer, quick enough for CI.
    demo = await startDemo({ delayMs: 15 });
    profile = mkdtempSync(join(tmpdir(), 'claude-rx-e2e-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 900, height: 1100 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(demo.url);
    await page.getByText('Offline: answers come from the built-in fake Claude server').waitFor();
    // The models of /api/info, the default one chosen.
    expect(await page.locator('#model option').allTextContents()).toEqual([
      'claude-sonnet-5-5',
      'claude-opus-4-5',
      'claude-haiku-4-5',
    ]);
    expect(await page.locator('#model').inputValue()).toBe('claude-sonnet-5-5');
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    await demo?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('loads fresh without a console message or a failed request (no /favicon.ico 404)', async () => {
    const fresh = await context.newPage();
    const messages: string[] = [];
    const failures: string[] = [];
    fresh.on('console', (message) => messages.push(`${message.type()}: ${message.text()}`));
    fresh.on('response', (response) => {
      if (response.status() >= 400) failures.push(`${response.status()} ${new URL(response.url()).pathname}`);
    });
    const scripts: string[] = [];
    fresh.on('response', (response) => {
      if (response.request().resourceType() === 'script') scripts.push(new URL(response.url()).pathname);
    });
    fresh.on('requestfailed', (request) => failures.push(`failed ${request.url()}`));
    await fresh.goto(demo.url, { waitUntil: 'networkidle' });
    await fresh.getByText('Offline: answers come from the built-in fake Claude server').waitFor();
    await fresh.close();
    expect(failures).toEqual([]);
    expect(messages.filter((text) => text.startsWith('error') || text.startsWith('warning'))).toEqual([]);
    // One script, the bundle: rxjs and claude-rx/client are inside it.
    expect(scripts).toEqual(['/page.js']);
  });

  /** Starts sampling the lengths of the answer and the thinking at each frame, then sends the prompt. */
  async function send(prompt: string, on: Page = page): Promise<void> {
    await on.locator('#prompt').fill(prompt);
    await on.evaluate((running) => {
      const w = window as unknown as { samples: Promise<Samples> };
      w.samples = new Promise<Samples>((resolve) => {
        const answer: number[] = [];
        const thinking: number[] = [];
        const states: string[] = [];
        const status = document.getElementById('status') as HTMLElement;
        let started = false;
        const frame = () => {
          answer.push(document.getElementById('answer')!.textContent.length);
          thinking.push(document.getElementById('thinking')!.textContent.length);
          const state = status.dataset['state']!;
          if (states.at(-1) !== state) states.push(state);
          if (running.includes(state)) started = true;
          if (started && !running.includes(state)) resolve({ answer, thinking, states, state });
          else requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      });
    }, RUNNING);
    await on.locator('#send').click();
  }

  async function samples(on: Page = page): Promise<Samples> {
    return on.evaluate(() => (window as unknown as { samples: Promise<Samples> }).samples);
  }

  it('streams the thinking and the story progressively, then shows the final usage', async () => {
    await send('Write a short story about a lighthouse keeper and a lost whale.');
    const seen = await samples();
    expect(seen.state).toBe('done');

    const answer = (await page.locator('#answer').textContent()) ?? '';
    const thinking = (await page.locator('#thinking').textContent()) ?? '';
    expect(answer).toContain('Every night for thirty years, Ada climbed');
    expect(answer).toContain('she did not feel alone.');
    expect(thinking).toContain('A short story, then: a lighthouse keeper');
    // More than one paint before the end: partial lengths, strictly between empty and complete, were on screen.
    const partial = (lengths: number[], final: number) => new Set(lengths.filter((n) => n > 0 && n < final)).size;
    expect(partial(seen.answer, answer.length)).toBeGreaterThan(1);
    expect(partial(seen.thinking, thinking.length)).toBeGreaterThan(1);

    await expect(page.locator('#usage-title').textContent()).resolves.toBe('Token usage (final)');
    expect(await page.locator('#usage-output').textContent()).toBe('251');
    expect(Number(await page.locator('#usage-input').textContent())).toBeGreaterThan(40);
    expect(await page.locator('#usage-cache-read').textContent()).toBe('512');
    expect(await page.locator('#error').isHidden()).toBe(true);
  });

  it('shows a tool call, its input as streamed and its result, then the answer; saves a screenshot', async () => {
    const before = demo.fake.requests.length;
    await page.getByRole('button', { name: 'A tool call' }).click();
    await page.locator('#model').selectOption('claude-haiku-4-5');
    await send(await page.locator('#prompt').inputValue());
    expect((await samples()).state).toBe('done');
    // The model chosen on the page, for both turns.
    expect(demo.fake.requests.slice(before).map((request) => request.body?.['model'])).toEqual([
      'claude-haiku-4-5',
      'claude-haiku-4-5',
    ]);

    const card = page.locator('.tool');
    await expect(card.count()).resolves.toBe(1);
    expect(await card.locator('b').textContent()).toBe('get_weather');
    expect(await card.locator('.tool-input').textContent()).toBe('{"city":"Paris"}');
    const result = JSON.parse((await card.locator('.tool-result').textContent()) ?? '');
    expect(result).toMatchObject({ city: 'Paris' });
    const answer = (await page.locator('#answer').textContent()) ?? '';
    expect(answer).toContain('Let me check the weather in Paris.');
    expect(answer).toContain(`Right now in Paris it is ${String(result.celsius)} °C`);
    // Two turns: 251 is not there, each turn's output is summed (64 + 38).
    expect(await page.locator('#usage-output').textContent()).toBe('102');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.locator('#model').selectOption('claude-sonnet-5-5');
  });

  it('Stop stops the stream on the server: the upstream request to Claude is aborted at once', async () => {
    const before = demo.fake.requests.length;
    await send('Another story, please.');
    await page.waitForFunction(() => (document.getElementById('answer')?.textContent?.length ?? 0) > 20);
    const stopRequest = page.waitForRequest((request) => new URL(request.url()).pathname === '/api/chat/stop');
    const clickedAt = performance.now();
    await page.locator('#stop').click();
    const seen = await samples();
    expect(seen.state).toBe('stopped');
    expect(await page.locator('#status').textContent()).toContain('Stopped');
    // The stream's id, in the body (never in the URL).
    expect(JSON.parse((await stopRequest).postData() ?? '')).toEqual({ id: expect.stringMatching(/^[\w-]{22}$/) });

    const requests = demo.fake.requests.slice(before);
    expect(requests).toHaveLength(1);
    await requests[0]!.closed;
    expect(requests[0]!.closedByClient).toBe(true);
    expect(requests[0]!.completed).toBe(false);
    // At once: not after the 15 s that a dropped connection is given to come back.
    expect(requests[0]!.closedAt! - clickedAt).toBeLessThan(2_000);
    expect(await page.locator('#answer').textContent()).not.toContain('she did not feel alone.');
  });

  it('shows an overload in the middle of the answer as a sentence, keeping the text so far', async () => {
    await page.getByRole('button', { name: 'An overload' }).click();
    await send(await page.locator('#prompt').inputValue());
    expect((await samples()).state).toBe('error');

    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toBe(
      'Claude became overloaded while answering, so the answer stops here. Please try again in a minute.',
    );
    expect(((await page.locator('#answer').textContent()) ?? '').length).toBeGreaterThan(0);
  });

  it('shows a rejected prompt as the server explained it', async () => {
    await send('x'.repeat(4001));
    expect((await samples()).state).toBe('error');
    expect(await page.locator('#error').textContent()).toBe(
      'Please check your request: prompt is too long: at most 4000 characters, got 4001.',
    );
  });
  // The page reached through a TCP proxy whose cut() destroys every connection, as a network drop does.
  describe('through a connection that drops mid-answer', () => {
    let paced: RunningDemo;
    let proxy: CuttableProxy;
    let tab: Page;

    beforeAll(async () => {
      // 5 ms per event: the story lasts about 1.5 s.
      paced = await startDemo({ delayMs: 5 });
      proxy = await CuttableProxy.start(paced.url);
      tab = await context.newPage();
      await tab.goto(proxy.url);
      await tab.getByText('Offline: answers come from the built-in fake Claude server').waitFor();
    });

    afterAll(async () => {
      await tab?.close();
      await proxy?.close();
      await paced?.close();
    });

    it('says "reconnecting…", resumes, and shows the whole answer once, from one upstream request', async () => {
      const before = paced.fake.requests.length;
      await send('Write a short story about a lighthouse keeper and a lost whale.', tab);
      await tab.waitForFunction(() => (document.getElementById('answer')?.textContent?.length ?? 0) > 80);
      const connections = proxy.connections;
      proxy.cut();
      const seen = await samples(tab);

      expect(seen.state).toBe('done');
      expect(seen.states).toContain('reconnecting');
      expect(seen.states.indexOf('reconnecting')).toBeLessThan(seen.states.lastIndexOf('streaming'));
      // The cut came before the end: the answer was partial when it came.
      expect(proxy.connections).toBeGreaterThan(connections);
      // Exactly the story: nothing lost, nothing doubled.
      expect(await tab.locator('#answer').textContent()).toBe(STORY);
      const thinking = (await tab.locator('#thinking').textContent()) ?? '';
      expect(thinking.match(/A short story, then/g)).toHaveLength(1);
      expect(await tab.locator('#error').isHidden()).toBe(true);
      expect(await tab.locator('#usage-output').textContent()).toBe('251');

      // One request to Claude, which ran to its end: the drop cost nothing.
      const requests = paced.fake.requests.slice(before);
      expect(requests).toHaveLength(1);
      await requests[0]!.closed;
      expect(requests[0]!.completed).toBe(true);
      expect(requests[0]!.closedByClient).toBe(false);
    });
  });
});
