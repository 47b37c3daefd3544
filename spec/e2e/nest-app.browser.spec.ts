import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDemo, type RunningDemo } from './support/demo-app.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = '.artifacts/e2e';
const SCREENSHOT = `${ARTIFACTS}/nest-app.png`;

/** What the page showed, sampled at every animation frame from Send until the status left `waiting`/`streaming`. */
interface Samples {
  readonly answer: number[];
  readonly thinking: number[];
  readonly state: string;
}

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
    fresh.on('requestfailed', (request) => failures.push(`failed ${request.url()}`));
    await fresh.goto(demo.url, { waitUntil: 'networkidle' });
    await fresh.getByText('Offline: answers come from the built-in fake Claude server').waitFor();
    await fresh.close();
    expect(failures).toEqual([]);
    expect(messages.filter((text) => text.startsWith('error') || text.startsWith('warning'))).toEqual([]);
  });

  /** Starts sampling the lengths of the answer and the thinking at each frame, then sends the prompt. */
  async function send(prompt: string): Promise<void> {
    await page.locator('#prompt').fill(prompt);
    await page.evaluate(() => {
      const w = window as unknown as { samples: Promise<Samples> };
      w.samples = new Promise<Samples>((resolve) => {
        const answer: number[] = [];
        const thinking: number[] = [];
        const status = document.getElementById('status') as HTMLElement;
        let started = false;
        const frame = () => {
          answer.push(document.getElementById('answer')!.textContent.length);
          thinking.push(document.getElementById('thinking')!.textContent.length);
          const state = status.dataset['state']!;
          if (state === 'waiting' || state === 'streaming') started = true;
          if (started && state !== 'waiting' && state !== 'streaming') resolve({ answer, thinking, state });
          else requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      });
    });
    await page.locator('#send').click();
  }

  async function samples(): Promise<Samples> {
    return page.evaluate(() => (window as unknown as { samples: Promise<Samples> }).samples);
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
    await page.getByRole('button', { name: 'A tool call' }).click();
    await send(await page.locator('#prompt').inputValue());
    expect((await samples()).state).toBe('done');

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
  });

  it('Stop aborts the stream, and the upstream request to Claude is closed', async () => {
    const before = demo.fake.requests.length;
    await send('Another story, please.');
    await page.waitForFunction(() => (document.getElementById('answer')?.textContent?.length ?? 0) > 20);
    await page.locator('#stop').click();
    const seen = await samples();
    expect(seen.state).toBe('stopped');
    expect(await page.locator('#status').textContent()).toContain('Stopped');

    const requests = demo.fake.requests.slice(before);
    expect(requests).toHaveLength(1);
    await requests[0]!.closed;
    expect(requests[0]!.closedByClient).toBe(true);
    expect(requests[0]!.completed).toBe(false);
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
});
