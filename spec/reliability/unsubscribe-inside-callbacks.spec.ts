import 'reflect-metadata';
import Anthropic from '@anthropic-ai/sdk';
import type { MessageEvent } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { map, takeWhile, timer, type Observable } from 'rxjs';
import {
  accumulateMessage,
  claudeStream,
  defineTool,
  finalMessage,
  isStreamRestart,
  retryOnRateLimit,
  runTools,
  textOnly,
  thinkingOnly,
  timeoutBetweenChunks,
  tokenUsage,
  toolInputs,
  type ClaudeRxEvent,
  type ToolOutput,
} from 'claude-rx';
import { ClaudeStreamModule, ClaudeStreamService, toSse } from 'claude-rx/nest';
import {
  FakeClaudeServer,
  errorReply,
  messageEvents,
  stallBeforeHeaders,
  streamReply,
  text,
  textMessage,
  thinking,
  toolUse,
  toolUseMessage,
  type FakeReply,
} from 'claude-rx/testing';
import { PARAMS, TEST_API_KEY, trackUnhandledRejections } from '../support/harness.js';
import {
  CLEAN,
  Probe,
  describeEnding,
  describeLeavePoint,
  now,
  requestsAfter,
  requestsStillOpen,
  settle,
  subscribeLeaving,
  trackResources,
  watchUnhandled,
  within,
  type Ending,
  type Findings,
  type LeavePoint,
} from './support/leave-inside.js';

// The issue: for every operator, for `toSse`, `sse()`, `sseRunTools()` and `runTools`, unsubscribe synchronously from
// inside every callback they call out to (`next` at each emission index, `onRetry`, `onEnd`, a tool's `run`, a
// heartbeat), then check that no timer or socket of ours is left, that no further request reaches the fake server
// (watching past the longest retry wait) and that no error went unhandled. RxJS's own operators allow exactly this
// (STYLE.md, "Re-entrancy"); the cases for `next` are generated from one run of each pipeline to its end.

// ---------------------------------------------------------------------------------------------------------------
// Scripts and limits
// ---------------------------------------------------------------------------------------------------------------

const RETRY_DELAY_MS = 30;
/** `jitter: 'none'`: a retry waits exactly RETRY_DELAY_MS × 2^(attempt - 1). */
const RETRY = { maxRetries: 2, baseDelayMs: RETRY_DELAY_MS, jitter: 'none' } as const;
/** How long to watch for a further request after leaving a pipeline that retries: past its longest wait. */
const QUIET_AFTER_RETRY_MS = RETRY_DELAY_MS * 4 + 60;
/** The same for a pipeline without retries: a further request would come at once. */
const QUIET_MS = 40;
/** A heartbeat interval short enough to see a few, with the upstream stalled. */
const HEARTBEAT_MS = 20;
/** Limits that a case never reaches, so that their timers are armed while it runs and must be cleared. */
const FAR_MS = 10_000;

/** Every kind of block an operator picks from: signed thinking, text, a tool call, each in a few deltas. */
const ANSWER = messageEvents([
  thinking('Let me see.', 'sig_leave_1', { chunkSize: 6 }),
  text('Hello there!', { chunkSize: 5 }),
  toolUse({ id: 'toolu_leave_1', name: 'get_weather', input: { city: 'Paris' }, chunkSize: 8 }),
]);
/** ANSWER's message_start, content_block_start and two thinking deltas: content has been delivered. */
const AFTER_CONTENT = 4;
const ok = () => streamReply(ANSWER);
const overloadedAfterContent = () =>
  streamReply(ANSWER, {
    errorAfter: { events: AFTER_CONTENT, error: { type: 'overloaded_error', message: 'Overloaded' } },
  });
/** Not retried: the stream fails with it. */
const apiErrorMidStream = () =>
  streamReply(ANSWER, { errorAfter: { events: AFTER_CONTENT + 2, error: { type: 'api_error', message: 'Internal' } } });
const stalledAfter = (events: number) => streamReply(ANSWER, { stallAfter: events });

/** The tool loop: a turn that calls get_weather, then the answer. */
const TOOL_TURNS = () => [
  streamReply(toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_turn_1', text: 'Let me check.' })),
  streamReply(textMessage('Sunny in Paris.', { chunkSize: 5 })),
];

const MODEL = 'claude-leave-model';
const MESSAGES = [{ role: 'user' as const, content: 'Weather in Paris?' }];

// ---------------------------------------------------------------------------------------------------------------
// Pipelines
// ---------------------------------------------------------------------------------------------------------------

/** What a pipeline is built from, fresh for each run. */
interface Env {
  readonly server: FakeClaudeServer;
  readonly client: Anthropic;
  /** `ClaudeStreamService` from a Nest testing module with `ClaudeStreamModule.forRoot` pointing at the fake server. */
  service(): Promise<ClaudeStreamService>;
}

interface Pipeline {
  readonly name: string;
  /** The fake server's replies, in order. */
  readonly replies: () => FakeReply[];
  /** The Observable under test; every callback it hands to the library calls `probe.call(...)` first. */
  readonly build: (env: Env, probe: Probe) => Observable<unknown> | Promise<Observable<unknown>>;
  /** One case per emission index, counted by a run to the end. @defaultValue true */
  readonly everyNext?: boolean;
  /** The other callbacks to leave in. @defaultValue none */
  readonly leaveIn?: readonly LeavePoint[];
  /** The pipeline unsubscribes by itself (`takeWhile`): one case, which completes. */
  readonly leavesByItself?: string;
  /** How long to watch for a further request after leaving. */
  readonly quietMs: number;
}

const at = (callback: LeavePoint['callback'], index = 0): LeavePoint => ({ callback, index });

const stream = ({ client }: Env) => claudeStream(client, PARAMS);

/** get_weather, answering with what `answer` returns; its `run` is a callback under test. */
function weatherTool(probe: Probe, answer: () => ToolOutput | Promise<ToolOutput> | Observable<ToolOutput>) {
  return defineTool({
    name: 'get_weather',
    description: 'The weather in a city',
    inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    run(_input, { signal }) {
      probe.toolSignals.push(signal);
      probe.call('run');
      return answer();
    },
  });
}
const sunny = (): ToolOutput => 'Sunny, 21 °C';

const PIPELINES: Pipeline[] = [
  { name: 'textOnly', replies: () => [ok()], build: (env) => stream(env).pipe(textOnly()), quietMs: QUIET_MS },
  { name: 'thinkingOnly', replies: () => [ok()], build: (env) => stream(env).pipe(thinkingOnly()), quietMs: QUIET_MS },
  {
    name: 'accumulateMessage',
    replies: () => [ok()],
    build: (env) => stream(env).pipe(accumulateMessage()),
    quietMs: QUIET_MS,
  },
  { name: 'finalMessage', replies: () => [ok()], build: (env) => stream(env).pipe(finalMessage()), quietMs: QUIET_MS },
  { name: 'toolInputs', replies: () => [ok()], build: (env) => stream(env).pipe(toolInputs()), quietMs: QUIET_MS },
  {
    name: 'tokenUsage',
    replies: () => [ok()],
    build: (env, probe) => stream(env).pipe(tokenUsage({ onEnd: () => probe.call('onEnd') })),
    leaveIn: [at('onEnd')],
    quietMs: QUIET_MS,
  },
  {
    name: 'tokenUsage, the stream failing mid-stream (onEnd on error)',
    replies: () => [apiErrorMidStream()],
    build: (env, probe) => stream(env).pipe(tokenUsage({ onEnd: () => probe.call('onEnd') })),
    everyNext: false,
    leaveIn: [at('onEnd')],
    quietMs: QUIET_MS,
  },
  {
    name: 'retryOnRateLimit, after HTTP 429 and 529',
    replies: () => [errorReply(429), errorReply(529), ok()],
    build: (env, probe) => stream(env).pipe(retryOnRateLimit({ ...RETRY, onRetry: () => probe.call('onRetry') })),
    leaveIn: [at('onRetry', 0), at('onRetry', 1)],
    quietMs: QUIET_AFTER_RETRY_MS,
  },
  {
    name: 'retryOnRateLimit, restartAfterContent, overloaded after content',
    replies: () => [overloadedAfterContent(), ok()],
    build: (env, probe) =>
      stream(env).pipe(retryOnRateLimit({ ...RETRY, restartAfterContent: true, onRetry: () => probe.call('onRetry') })),
    leaveIn: [at('onRetry')],
    quietMs: QUIET_AFTER_RETRY_MS,
  },
  {
    name: 'retryOnRateLimit, restartAfterContent, then takeWhile(e => !isStreamRestart(e))',
    replies: () => [overloadedAfterContent(), ok()],
    build: (env, probe) =>
      stream(env).pipe(
        retryOnRateLimit({ ...RETRY, restartAfterContent: true }),
        takeWhile((event: ClaudeRxEvent) => {
          if (!isStreamRestart(event)) return true;
          probe.leavingBy('takeWhile, at the stream_restart marker');
          return false;
        }),
      ),
    everyNext: false,
    leavesByItself: 'takeWhile leaves at the stream_restart marker',
    quietMs: QUIET_AFTER_RETRY_MS,
  },
  {
    name: 'timeoutBetweenChunks',
    replies: () => [ok()],
    build: (env) => stream(env).pipe(timeoutBetweenChunks({ first: FAR_MS, each: FAR_MS, total: FAR_MS })),
    quietMs: QUIET_MS,
  },
  {
    name: 'toSse',
    replies: () => [ok()],
    build: (env) => stream(env).pipe(toSse({ heartbeatMs: FAR_MS })),
    quietMs: QUIET_MS,
  },
  {
    name: 'toSse, upstream stalled mid-stream',
    replies: () => [stalledAfter(3)],
    build: (env) => stream(env).pipe(toSse({ heartbeatMs: HEARTBEAT_MS })),
    everyNext: false,
    leaveIn: [at('heartbeat', 0), at('heartbeat', 1)],
    quietMs: QUIET_MS,
  },
  {
    name: 'toSse, upstream stalled before its headers',
    replies: () => [stallBeforeHeaders()],
    build: (env) => stream(env).pipe(toSse({ heartbeatMs: HEARTBEAT_MS })),
    everyNext: false,
    leaveIn: [at('heartbeat', 0)],
    quietMs: QUIET_MS,
  },
  {
    name: 'runTools',
    replies: TOOL_TURNS,
    build: ({ client }, probe) => runTools(client, PARAMS, { tools: [weatherTool(probe, sunny)] }),
    leaveIn: [at('run')],
    quietMs: QUIET_MS,
  },
  {
    name: 'runTools, a tool returning a Promise',
    replies: TOOL_TURNS,
    build: ({ client }, probe) =>
      runTools(client, PARAMS, { tools: [weatherTool(probe, () => Promise.resolve(sunny()))] }),
    everyNext: false,
    leaveIn: [at('run')],
    quietMs: QUIET_MS,
  },
  {
    name: 'runTools, a tool returning an Observable',
    replies: TOOL_TURNS,
    build: ({ client }, probe) =>
      runTools(client, PARAMS, { tools: [weatherTool(probe, () => timer(10).pipe(map(sunny)))] }),
    everyNext: false,
    leaveIn: [at('run')],
    quietMs: QUIET_MS,
  },
  {
    name: 'runTools with retryOnRateLimit per request, after HTTP 429',
    replies: () => [errorReply(429), ...TOOL_TURNS()],
    build: ({ client }, probe) =>
      runTools(client, PARAMS, {
        tools: [weatherTool(probe, sunny)],
        perRequest: (events) => events.pipe(retryOnRateLimit({ ...RETRY, onRetry: () => probe.call('onRetry') })),
      }),
    everyNext: false,
    leaveIn: [at('onRetry'), at('run')],
    quietMs: QUIET_AFTER_RETRY_MS,
  },
  {
    name: 'ClaudeStreamService.sse()',
    replies: () => [ok()],
    build: async (env) => (await env.service()).sse({ messages: MESSAGES }),
    quietMs: QUIET_AFTER_RETRY_MS,
  },
  {
    name: 'ClaudeStreamService.sse(), upstream stalled mid-stream',
    replies: () => [stalledAfter(3)],
    build: async (env) => (await env.service()).sse({ messages: MESSAGES }, { heartbeatMs: HEARTBEAT_MS }),
    everyNext: false,
    leaveIn: [at('heartbeat', 0), at('heartbeat', 1)],
    quietMs: QUIET_AFTER_RETRY_MS,
  },
  {
    name: 'ClaudeStreamService.sseRunTools()',
    replies: TOOL_TURNS,
    build: async (env, probe) =>
      (await env.service()).sseRunTools({ messages: MESSAGES }, { tools: [weatherTool(probe, sunny)] }),
    leaveIn: [at('run')],
    quietMs: QUIET_AFTER_RETRY_MS,
  },
];

// ---------------------------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------------------------

const isHeartbeat = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && (value as MessageEvent).comment !== undefined;

/** Rejections the harness sees (jest's process); the real process's are in `watchUnhandled`. */
const rejections = trackUnhandledRejections();

/**
 * Runs `pipeline` against a fresh fake server, leaving at `leavePoint` (or running it to its end when there is none
 * and the pipeline does not leave by itself), and reports what it left behind.
 */
async function runOnce(
  pipeline: Pipeline,
  leavePoint: LeavePoint | undefined,
): Promise<{ findings: Findings; emissions: number }> {
  const tracker = trackResources();
  const unhandled = watchUnhandled();
  const rejectionsBefore = rejections.length;
  const server = await FakeClaudeServer.start();
  let moduleRef: TestingModule | undefined;
  let subscription: { unsubscribe(): void } | undefined;
  try {
    server.enqueue(...pipeline.replies());
    const client = new Anthropic({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0 });
    const env: Env = {
      server,
      client,
      async service() {
        moduleRef = await Test.createTestingModule({
          imports: [
            ClaudeStreamModule.forRoot({
              apiKey: TEST_API_KEY,
              baseURL: server.url,
              clientOptions: { maxRetries: 0 },
              defaults: { model: MODEL, max_tokens: 64 },
              retry: RETRY,
              timeout: { first: FAR_MS, each: FAR_MS },
              sse: { heartbeatMs: FAR_MS },
            }),
          ],
        }).compile();
        moduleRef.useLogger(false);
        return moduleRef.get(ClaudeStreamService);
      },
    };
    let requestsAtLeaving = 0;
    let leftAt = 0;
    const probe = new Probe(leavePoint, () => {
      requestsAtLeaving = server.requests.length;
      leftAt = now();
    });

    const run = subscribeLeaving(await pipeline.build(env, probe), probe, isHeartbeat);
    subscription = run.subscription;
    const ending = await within<Ending>(tracker, run.ending, 5_000, { how: 'still running' });

    const openRequests = await requestsStillOpen(tracker, server.requests, 2_000);
    await settle(tracker, 10);
    const timersLeft = tracker.timers();
    const socketsLeft = tracker.sockets();
    if (probe.leftIn !== undefined) await tracker.sleep(pipeline.quietMs);

    const leftWhileToolsRan = leavePoint?.callback === 'run';
    const findings: Findings = {
      ending: describeEnding(ending),
      probeProblems: [
        ...probe.problems,
        ...(probe.leftIn === undefined && leavePoint ? [`never reached ${describeLeavePoint(leavePoint)}`] : []),
        ...(probe.leftIn === undefined && pipeline.leavesByItself ? [`never left: ${pipeline.leavesByItself}`] : []),
      ],
      openRequests,
      timersLeft,
      socketsLeft,
      requestsAfterLeaving: probe.leftIn === undefined ? [] : requestsAfter(server, requestsAtLeaving, leftAt),
      toolSignalsNotAborted: leftWhileToolsRan ? probe.toolSignals.filter((signal) => !signal.aborted).length : 0,
      unhandled: [
        ...unhandled.found(),
        ...rejections.slice(rejectionsBefore).map((reason) => `unhandled rejection (jest): ${String(reason)}`),
      ],
    };
    return { findings, emissions: probe.calls('next') };
  } finally {
    subscription?.unsubscribe();
    await moduleRef?.close();
    await server.close();
    tracker.clearTimers();
    tracker.stop();
    unhandled.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The table: one run of each pipeline to its end counts its emissions; then a case per index and per callback.
// ---------------------------------------------------------------------------------------------------------------

interface Case {
  readonly title: string;
  readonly pipeline: Pipeline;
  readonly leavePoint: LeavePoint | undefined;
}

async function emissionsOf(pipeline: Pipeline): Promise<number> {
  const { findings, emissions } = await runOnce(pipeline, undefined);
  if (findings.ending !== 'complete' || emissions === 0) {
    throw new Error(`${pipeline.name}: the counting run ended with ${findings.ending} after ${emissions} emissions`);
  }
  return emissions;
}

const TABLE: { readonly name: string; readonly cases: Case[] }[] = [];
for (const pipeline of PIPELINES) {
  const emissions = pipeline.everyNext === false ? 0 : await emissionsOf(pipeline);
  const points = [...Array.from({ length: emissions }, (_, index) => at('next', index)), ...(pipeline.leaveIn ?? [])];
  const cases: Case[] = points.map((leavePoint) => ({
    title: `unsubscribing inside ${describeLeavePoint(leavePoint)}`,
    pipeline,
    leavePoint,
  }));
  if (pipeline.leavesByItself) cases.push({ title: pipeline.leavesByItself, pipeline, leavePoint: undefined });
  TABLE.push({ name: pipeline.name, cases });
}

describe.each(TABLE)('$name', ({ cases }) => {
  it.each(cases)('$title: no timer, socket or request left, nothing unhandled', async ({ pipeline, leavePoint }) => {
    const { findings } = await runOnce(pipeline, leavePoint);

    expect(findings).toEqual({ ...CLEAN, ending: pipeline.leavesByItself ? 'complete' : 'left' });
  });
});
