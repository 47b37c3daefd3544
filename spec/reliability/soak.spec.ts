import Anthropic from '@anthropic-ai/sdk';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { Subscription, pipe } from 'rxjs';
import { claudeStream, retryOnRateLimit, timeoutBetweenChunks, type ClaudeRxEvent } from 'claude-rx';
import { FakeClaudeServer, streamReply, textMessage, type RecordedRequest } from 'claude-rx/testing';
import { PARAMS, TEST_API_KEY, sleep } from '../support/harness.js';
import { fetchSse } from './sse-reader.js';
import {
  RETRY,
  expectResourcesBackTo,
  openResources,
  seededRandom,
  startNestApp,
  watchProcess,
  type NestApp,
} from './support.js';

/**
 * The soak: many streams through `claudeStream` with the default operators, then through the NestJS SSE endpoint,
 * a random tenth of them given up mid-stream. Afterwards every upstream request must be closed (counted at the
 * server), the process must hold no more sockets or timers than before, no warning (`MaxListenersExceededWarning`)
 * nor unhandled rejection may have come, and, when `gc` is exposed (`node --expose-gc`), the heap after GC must be
 * within 10 MB of where it started.
 *
 * `npm test` runs a small one. `npm run soak` (scripts/soak.mjs) runs the full one: CLAUDE_RX_SOAK=full, with
 * `--expose-gc`, writing its figures to the file named by CLAUDE_RX_SOAK_REPORT.
 */
const FULL = process.env['CLAUDE_RX_SOAK'] === 'full';
const SIZES = FULL
  ? { sequential: 10_000, concurrent: 500, nestSequential: 10_000, nestConcurrent: 500 }
  : { sequential: 200, concurrent: 50, nestSequential: 50, nestConcurrent: 50 };
const HEAP_LIMIT_BYTES = 10 * 1024 * 1024;
const SEED = Number(process.env['CLAUDE_RX_SOAK_SEED'] ?? 20_260_101);

/** The default operators, with limits that a loaded machine running hundreds of streams at once stays within. */
const soakStack = () =>
  pipe(timeoutBetweenChunks<ClaudeRxEvent>({ first: 10_000, each: 10_000 }), retryOnRateLimit(RETRY));

const ANSWER = textMessage('A soak answer, streamed in small pieces to make many events.', { chunkSize: 6 });
/** What a request asking to be given up gets: a stream that stalls after its first text delta, so that only the
 * client's abort can end it. */
const STALLING = streamReply(ANSWER, { stallAfter: 3 });
const FINISHING = streamReply(ANSWER);
const GIVE_UP = 'give up';

/** `gc` when node runs with --expose-gc (jest's sandbox does not see it as a global). */
const gc = vm.runInThisContext('typeof gc === "function" ? gc : undefined') as (() => void) | undefined;

async function settledHeap(): Promise<number | undefined> {
  if (!gc) return undefined;
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}

/** Counts the upstream requests and how each ended, without keeping them. */
class Upstream {
  opened = 0;
  closed = 0;
  abortedByClient = 0;
  completed = 0;

  constructor(readonly server: FakeClaudeServer) {
    this.listen();
  }

  /** Forgets the server's records (which it keeps for tests to read) so that they do not count as leaked heap. */
  forgetRecords(): void {
    this.server.reset();
    this.listen();
  }

  async allClosed(): Promise<void> {
    const deadline = performance.now() + 5_000;
    while (this.closed < this.opened && performance.now() < deadline) await sleep(10);
    expect(this.closed).toBe(this.opened);
  }

  private listen(): void {
    this.server.respondWith((request: RecordedRequest) => {
      this.opened += 1;
      void request.closed.then(() => {
        this.closed += 1;
        if (request.closedByClient) this.abortedByClient += 1;
        if (request.completed) this.completed += 1;
      });
      return request.rawBody.includes(GIVE_UP) ? STALLING : FINISHING;
    });
  }
}

type Ending = 'completed' | 'gave up' | Error;

/** One stream through claudeStream; given up (unsubscribed) at its first text delta when `giveUp`. */
function oneStream(client: Anthropic, giveUp: boolean, signal?: AbortSignal): Promise<Ending> {
  const params = { ...PARAMS, messages: [{ role: 'user' as const, content: giveUp ? GIVE_UP : 'finish' }] };
  return new Promise((resolve) => {
    const subscription = new Subscription();
    subscription.add(
      claudeStream(client, params, signal ? { signal } : undefined)
        .pipe(soakStack())
        .subscribe({
          next(event) {
            if (giveUp && event.type === 'content_block_delta') {
              subscription.unsubscribe();
              resolve('gave up');
            }
          },
          error: (error: Error) => resolve(error),
          complete: () => resolve('completed'),
        }),
    );
  });
}

/** One client of the SSE endpoint; disconnects after its first event when `giveUp`. */
async function oneClient(nest: NestApp, giveUp: boolean): Promise<Ending> {
  const read = await fetchSse(`${nest.url}/chat/stream?q=${encodeURIComponent(giveUp ? GIVE_UP : 'finish')}`, {
    ...(giveUp ? { leaveAfter: 1 } : {}),
  });
  if (giveUp) return 'gave up';
  const last = read.events.at(-1)?.event;
  return read.status === 200 && last === 'done' ? 'completed' : new Error(`status ${read.status}, last event ${last}`);
}

interface PhaseFigures {
  streams: number;
  gaveUp: number;
  failed: number;
  seconds: number;
  upstream: { opened: number; closed: number; abortedByClient: number; completed: number };
  heapDeltaMB?: number;
}

async function phase(
  upstream: Upstream,
  random: () => number,
  sizes: { sequential: number; concurrent: number },
  run: (giveUp: boolean, sequential: boolean) => Promise<Ending>,
): Promise<PhaseFigures> {
  const before = { ...upstream };
  const endings: Ending[] = [];
  const startedAt = performance.now();
  for (let i = 0; i < sizes.sequential; i++) {
    endings.push(await run(random() < 0.1, true));
    if (i % 1_000 === 999) upstream.forgetRecords();
  }
  endings.push(...(await Promise.all(Array.from({ length: sizes.concurrent }, () => run(random() < 0.1, false)))));
  const seconds = (performance.now() - startedAt) / 1000;
  await upstream.allClosed();
  upstream.forgetRecords();

  const failures = endings.filter((ending): ending is Error => ending instanceof Error);
  expect(failures.slice(0, 3)).toEqual([]);
  const gaveUp = endings.filter((ending) => ending === 'gave up').length;
  const figures: PhaseFigures = {
    streams: endings.length,
    gaveUp,
    failed: failures.length,
    seconds: Math.round(seconds * 10) / 10,
    upstream: {
      opened: upstream.opened - before.opened,
      closed: upstream.closed - before.closed,
      abortedByClient: upstream.abortedByClient - before.abortedByClient,
      completed: upstream.completed - before.completed,
    },
  };
  // One request per stream; each given-up one aborted by the client mid-stream, each other one served to the end.
  expect(figures.upstream).toEqual({
    opened: endings.length,
    closed: endings.length,
    abortedByClient: gaveUp,
    completed: endings.length - gaveUp,
  });
  expect(gaveUp).toBeGreaterThan(0);
  return figures;
}

const MB = 1024 * 1024;
const toMB = (bytes: number) => Math.round((bytes / MB) * 100) / 100;

describe(`soak (${FULL ? 'full' : 'small'})`, () => {
  it(
    `${SIZES.sequential} sequential + ${SIZES.concurrent} concurrent streams through claudeStream, then ` +
      `${SIZES.nestSequential} + ${SIZES.nestConcurrent} SSE clients, a tenth given up: nothing left behind`,
    async () => {
      const random = seededRandom(SEED);
      const resourcesAtStart = openResources();
      const watch = watchProcess();
      const server = await FakeClaudeServer.start();
      let nest: NestApp | undefined;
      try {
        const upstream = new Upstream(server);
        const client = new Anthropic({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0 });
        // One signal of the caller's shared by every sequential stream: a listener left on it would warn at 11.
        // (Concurrent streams sharing one would warn legitimately: each holds a listener while it runs.)
        const shared = new AbortController();
        const rssAtStart = process.memoryUsage().rss;

        // Warm-up (code paths compiled, pools filled), then the heap's starting point.
        for (let i = 0; i < 50; i++) await oneStream(client, i % 10 === 0);
        await upstream.allClosed();
        upstream.forgetRecords();
        const heapAtStart = await settledHeap();

        const streams = await phase(upstream, random, SIZES, (giveUp, sequential) =>
          oneStream(client, giveUp, sequential ? shared.signal : undefined),
        );
        const heapAfterStreams = await settledHeap();

        nest = await startNestApp(server.url, {
          timeout: { first: 10_000, each: 10_000 },
          sse: { heartbeatMs: 1_000 },
        });
        const app = nest;
        for (let i = 0; i < 20; i++) await oneClient(app, i % 10 === 0);
        await upstream.allClosed();
        upstream.forgetRecords();
        const heapBeforeNest = await settledHeap();
        const clients = await phase(
          upstream,
          random,
          { sequential: SIZES.nestSequential, concurrent: SIZES.nestConcurrent },
          (giveUp) => oneClient(app, giveUp),
        );
        const heapAfterNest = await settledHeap();
        const rssPeak = process.memoryUsage().rss;
        await nest.app.close();
        nest = undefined;
        await server.close();
        await expectResourcesBackTo(resourcesAtStart);

        if (heapAtStart !== undefined && heapAfterStreams !== undefined) {
          streams.heapDeltaMB = toMB(heapAfterStreams - heapAtStart);
          expect(heapAfterStreams - heapAtStart).toBeLessThan(HEAP_LIMIT_BYTES);
        }
        if (heapBeforeNest !== undefined && heapAfterNest !== undefined) {
          clients.heapDeltaMB = toMB(heapAfterNest - heapBeforeNest);
          expect(heapAfterNest - heapBeforeNest).toBeLessThan(HEAP_LIMIT_BYTES);
        }
        await sleep(10);
        expect(watch.warnings).toEqual([]);
        expect(watch.rejections).toEqual([]);

        const report = process.env['CLAUDE_RX_SOAK_REPORT'];
        if (report) {
          const figures = {
            mode: FULL ? 'full' : 'small',
            seed: SEED,
            node: process.version,
            claudeStream: streams,
            nestSse: clients,
            heapMeasured: gc !== undefined,
            heapAtStartMB: heapAtStart === undefined ? undefined : toMB(heapAtStart),
            rssAtStartMB: toMB(rssAtStart),
            rssPeakMB: toMB(rssPeak),
            resourcesAtStart,
            resourcesAtEnd: openResources(),
            warnings: watch.warnings.length,
            unhandledRejections: watch.rejections.length,
          };
          writeFileSync(report, JSON.stringify(figures, null, 2) + '\n');
        }
      } finally {
        await nest?.app.close();
        await server.close();
        watch.stop();
      }
    },
    FULL ? 60 * 60_000 : 60_000,
  );
});
