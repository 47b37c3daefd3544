import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import {
  claudeStream,
  MemoryStreamStore,
  ResumableStreams,
  StreamEndedError,
  StreamIdError,
  StreamNotFoundError,
  toSseFrames,
  type ResumableStreamsOptions,
  type SseMessage,
} from 'claude-rx';
import { streamReply, textMessage, type RecordedRequest } from 'claude-rx/testing';
import { PARAMS, sleep, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';

// The counters of resumable streams, read from a real MeterProvider (the app's, registered as the global one) while
// ResumableStreams runs real claudeStream calls against the fake server. Counters are cumulative over the file: each
// test compares what it reads with what it read before.

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const OPEN = 'claude_rx.streams.open';
const RESUMED = 'claude_rx.streams.resumed';
const STOPPED = 'claude_rx.streams.stopped';
const GRACE_ABORTED = 'claude_rx.streams.grace_aborted';
const NAMES = [OPEN, RESUMED, STOPPED, GRACE_ABORTED] as const;
type Counts = Record<(typeof NAMES)[number], number>;

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
// Exports only when asked (forceFlush): the interval is never reached in a test.
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000_000_000 });
const provider = new MeterProvider({ readers: [reader] });

beforeAll(async () => {
  // claude-rx loads @opentelemetry/api by a dynamic import: settled before the first count.
  const { openTelemetryLoaded } = await import('../../lib/telemetry/open-telemetry.js');
  await openTelemetryLoaded;
  metrics.setGlobalMeterProvider(provider);
});
afterAll(async () => {
  metrics.disable();
  await provider.shutdown();
});

/** The counters' values now (cumulative sums of claude-rx's meter; 0 for one never recorded). */
async function counts(): Promise<Counts> {
  exporter.reset();
  await reader.forceFlush();
  const found: Counts = { [OPEN]: 0, [RESUMED]: 0, [STOPPED]: 0, [GRACE_ABORTED]: 0 };
  for (const resource of exporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      if (scope.scope.name !== 'claude-rx') continue;
      for (const metric of scope.metrics) {
        const name = metric.descriptor.name as keyof Counts;
        if (!NAMES.includes(name)) continue;
        found[name] = (metric.dataPoints as { value: number }[]).reduce((sum, point) => sum + point.value, 0);
      }
    }
  }
  return found;
}

/** How each counter moved since `before`. */
async function changeSince(before: Counts): Promise<Counts> {
  const now = await counts();
  return {
    [OPEN]: now[OPEN] - before[OPEN],
    [RESUMED]: now[RESUMED] - before[RESUMED],
    [STOPPED]: now[STOPPED] - before[STOPPED],
    [GRACE_ABORTED]: now[GRACE_ABORTED] - before[GRACE_ABORTED],
  };
}

const NO_CHANGE: Counts = { [OPEN]: 0, [RESUMED]: 0, [STOPPED]: 0, [GRACE_ABORTED]: 0 };

/** Polls `condition`; fails naming `what` after 5 s. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 5 s`);
    await sleep(10);
  }
}

function newStreams(options: ResumableStreamsOptions = {}): ResumableStreams {
  return new ResumableStreams({ store: new MemoryStreamStore(), graceMs: 5_000, ...options });
}

/** A real call's frames: the SDK against the fake server, through toSseFrames. */
const frames = () => claudeStream(fake.client, PARAMS).pipe(toSseFrames());

async function closedByClient(request: RecordedRequest | undefined): Promise<void> {
  await request!.closed;
  expect(request!.closedByClient).toBe(true);
}

const ANSWER = 'Counted once per stream, whatever ends it.';

describe('claude_rx.streams.open', () => {
  it('is 1 while a stream is produced, and back to 0 once its final event is stored', async () => {
    const streams = newStreams();
    const before = await counts();
    fake.server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 4 }), { delayMs: 20 }));

    const stream = await streams.start(frames(), { owner: 'alice' });
    await fake.server.waitForRequests(1);

    expect(await changeSince(before)).toEqual({ ...NO_CHANGE, [OPEN]: 1 });
    const read = await lastValueFrom(stream.read().pipe(toArray()));
    expect(read.at(-1)?.type).toBe('done');
    await until(() => streams.producing === 0, 'the producer to end');
    expect(await changeSince(before)).toEqual(NO_CHANGE);
  });

  it('counts streams side by side', async () => {
    const streams = newStreams();
    const before = await counts();
    fake.server.enqueue(
      streamReply(textMessage(ANSWER), { stallAfter: 3 }),
      streamReply(textMessage(ANSWER), { stallAfter: 3 }),
    );

    const first = await streams.start(frames(), { owner: 'alice' });
    const second = await streams.start(frames(), { owner: 'bob' });
    const requests = await fake.server.waitForRequests(2);

    expect((await changeSince(before))[OPEN]).toBe(2);
    await streams.stop(first.id, { owner: 'alice' });
    await until(async () => (await changeSince(before))[OPEN] === 1, 'one stream to end');
    await streams.stop(second.id, { owner: 'bob' });
    await until(() => streams.producing === 0, 'the producers to end');
    expect((await changeSince(before))[OPEN]).toBe(0);
    for (const request of requests) await closedByClient(request);
  });

  it('back to 0 after a stream that failed, counted neither as stopped nor as grace-aborted', async () => {
    const streams = newStreams();
    const before = await counts();
    fake.server.enqueue(
      streamReply(textMessage(ANSWER), {
        errorAfter: { events: 3, error: { type: 'overloaded_error', message: 'Overloaded' } },
      }),
    );

    const stream = await streams.start(frames(), { owner: 'alice' });
    const read = await lastValueFrom(stream.read().pipe(toArray()));

    expect(read.at(-1)?.type).toBe('error');
    await until(() => streams.producing === 0, 'the producer to end');
    expect(await changeSince(before)).toEqual(NO_CHANGE);
  });

  it('a stream discarded before it was produced is never counted', async () => {
    const streams = newStreams();
    const before = await counts();
    const stream = await streams.create({ owner: 'alice' });
    expect((await changeSince(before))[OPEN]).toBe(0);
    await stream.discard();
    expect(await changeSince(before)).toEqual(NO_CHANGE);
  });
});

describe('claude_rx.streams.resumed', () => {
  it('counts a resume answered with events, not a refused one (404, 204, 400)', async () => {
    const streams = newStreams();
    fake.server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 4 }), { delayMs: 15 }));
    const stream = await streams.start(frames(), { owner: 'alice' });
    const firstThree = await lastValueFrom(stream.read().pipe(take(3), toArray()));
    const before = await counts();

    const rest = await streams.resume(firstThree.at(-1)!.id, { owner: 'alice' });
    const resumed = await lastValueFrom(rest.pipe(toArray()));

    expect(resumed[0]!.id).toBe(`${stream.id}.4`);
    expect(resumed.at(-1)?.type).toBe('done');
    expect((await changeSince(before))[RESUMED]).toBe(1);

    const afterOne = await counts();
    // Another owner's stream, and a forged id: 404.
    await expect(streams.resume(firstThree.at(-1)!.id, { owner: 'mallory' })).rejects.toBeInstanceOf(
      StreamNotFoundError,
    );
    await expect(streams.resume('AAAAAAAAAAAAAAAAAAAAAA.3', { owner: 'alice' })).rejects.toBeInstanceOf(
      StreamNotFoundError,
    );
    // The final event's id: 204, nothing more to read.
    await expect(streams.resume(resumed.at(-1)!.id, { owner: 'alice' })).rejects.toBeInstanceOf(StreamEndedError);
    // Not an event id: 400.
    await expect(streams.resume('not-an-id', { owner: 'alice' })).rejects.toBeInstanceOf(StreamIdError);
    expect(await changeSince(afterOne)).toEqual(NO_CHANGE);

    // An ended stream read again from its start is answered with events: a resume too.
    const again: SseMessage[] = await lastValueFrom(
      (await streams.resume(`${stream.id}.1`, { owner: 'alice' })).pipe(toArray()),
    );
    expect(again.at(-1)?.type).toBe('done');
    expect((await changeSince(afterOne))[RESUMED]).toBe(1);
  });
});

describe('claude_rx.streams.stopped', () => {
  it('counts stop(), once; the upstream request is aborted and the stream no longer open', async () => {
    const streams = newStreams();
    const before = await counts();
    fake.server.enqueue(streamReply(textMessage(ANSWER), { stallAfter: 3 }));
    const stream = await streams.start(frames(), { owner: 'alice' });
    const [request] = await fake.server.waitForRequests(1);
    await firstValueFrom(stream.read().pipe(take(2), toArray()));

    expect(await streams.stop(stream.id, { owner: 'alice' })).toBe(true);
    const read = await lastValueFrom(stream.read().pipe(toArray()));

    expect(read.at(-1)?.type).toBe('stopped');
    await closedByClient(request);
    await until(() => streams.producing === 0, 'the producer to end');
    expect(await changeSince(before)).toEqual({ ...NO_CHANGE, [STOPPED]: 1 });

    // Over already: refused, not counted.
    expect(await streams.stop(stream.id, { owner: 'alice' })).toBe(false);
    expect(await changeSince(before)).toEqual({ ...NO_CHANGE, [STOPPED]: 1 });
  });

  it("does not count a stop of another owner's stream", async () => {
    const streams = newStreams();
    fake.server.enqueue(streamReply(textMessage(ANSWER), { stallAfter: 3 }));
    const stream = await streams.start(frames(), { owner: 'alice' });
    await fake.server.waitForRequests(1);
    const before = await counts();

    expect(await streams.stop(stream.id, { owner: 'mallory' })).toBe(false);
    await sleep(50);
    expect(await changeSince(before)).toEqual(NO_CHANGE);

    await streams.stop(stream.id, { owner: 'alice' });
    await until(() => streams.producing === 0, 'the producer to end');
  });
});

describe('claude_rx.streams.grace_aborted', () => {
  it('counts a stream aborted because no reader was attached for graceMs', async () => {
    const streams = newStreams({ graceMs: 100 });
    const before = await counts();
    fake.server.enqueue(streamReply(textMessage(ANSWER), { stallAfter: 3 }));

    const stream = await streams.start(frames(), { owner: 'alice' });
    const [request] = await fake.server.waitForRequests(1);

    await closedByClient(request);
    await until(() => streams.producing === 0, 'the producer to end');
    const read = await lastValueFrom(stream.read().pipe(toArray()));
    expect(read.at(-1)?.type).toBe('stopped');
    expect(JSON.parse(read.at(-1)!.data)).toEqual({ reason: 'no_reader' });
    expect(await changeSince(before)).toEqual({ ...NO_CHANGE, [GRACE_ABORTED]: 1 });
  });

  it('does not count a stream that ended while its reader was attached', async () => {
    const streams = newStreams({ graceMs: 100 });
    const before = await counts();
    fake.server.enqueue(streamReply(textMessage(ANSWER, { chunkSize: 4 }), { delayMs: 30 }));

    const stream = await streams.start(frames(), { owner: 'alice' });
    const read = await lastValueFrom(stream.read().pipe(toArray()));

    expect(read.at(-1)?.type).toBe('done');
    await until(() => streams.producing === 0, 'the producer to end');
    expect(await changeSince(before)).toEqual(NO_CHANGE);
  });
});
