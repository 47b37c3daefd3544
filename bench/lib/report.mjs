// Renders a run's results as markdown, and writes them into BENCHMARKS.md between its markers.
import { readFileSync, writeFileSync } from 'node:fs';
import { fixed, markdownTable } from './stats.mjs';
import { KB, NEST_TARGETS, RATIO_TARGETS, REDIS_CASES, REDIS_STORES, RESUME_VARIANTS, SDK_RAW } from './suites.mjs';

export const START_MARKER = '<!-- bench:results:start (written by `npm run bench`; edits inside are overwritten) -->';
export const END_MARKER = '<!-- bench:results:end -->';

const RX_ACCUMULATE_INPUT = 'claudeStream | accumulateMessage(), input read';
const RX_TOOL_INPUTS = 'claudeStream | toolInputs()';
const LINEAR_LIMIT = 2.2;
const SDK_SPEEDUP = 100;

const SERVER_LABELS = {
  relay: 'node:http + SDK raw stream (hand-written relay)',
  rx: 'node:http + claude-rx, no Nest (diagnostic)',
  'nest-raw': 'NestJS `@Sse()` + SDK raw stream, no claude-rx (diagnostic)',
  nest: 'NestJS `ClaudeStreamService.sse()`',
};

const verdict = (ok) => (ok === undefined ? 'not run' : ok ? 'met' : '**missed**');

/** A ratio target's verdict: by the median, and "within noise" when the 90% interval has the limit inside it. */
function ratioVerdict(entry, limit) {
  if (entry?.ratio === undefined) return 'not run';
  const [low, high] = entry.ratioInterval ?? [NaN, NaN];
  const noisy = low <= limit && limit < high;
  return `${verdict(entry.ratio <= limit)}${noisy ? ' (within noise)' : ''}`;
}

const interval = (entry) =>
  entry.ratioInterval ? `${fixed(entry.ratioInterval[0], 2)}–${fixed(entry.ratioInterval[1], 2)}` : '';
const kb = (bytes) => (bytes >= 1024 * KB ? `${bytes / 1024 / KB} MB` : `${bytes / KB} KB`);

function streamTable(suite) {
  const rows = Object.entries(suite.consumers)
    .sort(([, a], [, b]) => a.cpuMs - b.cpuMs)
    .map(([name, entry]) => [
      name === SDK_RAW ? `**${name}**` : name,
      fixed(entry.cpuMs),
      fixed(entry.wallMs),
      fixed(entry.ratio, 2),
      interval(entry),
      RATIO_TARGETS[name] === undefined ? '' : `≤ ${RATIO_TARGETS[name].toFixed(2)}`,
      `${entry.samples} (${entry.processes})`,
    ]);
  return markdownTable(
    ['consumer', 'CPU ms', 'wall ms', 'CPU ÷ SDK raw', '90% interval', 'target', 'runs (processes)'],
    rows,
  );
}

function choicesTable(choices) {
  const names = Object.keys(choices.byChoice);
  const rows = choices.consumers
    .filter((consumer) => consumer !== SDK_RAW)
    .map((consumer) => [
      consumer,
      ...names.map((name) => {
        const entry = choices.byChoice[name][consumer];
        if (!entry) return 'not run';
        return entry.processes > 1 ? `${fixed(entry.ratio, 2)} (${interval(entry)})` : fixed(entry.ratio, 2);
      }),
      RATIO_TARGETS[consumer] === undefined ? '' : `≤ ${RATIO_TARGETS[consumer].toFixed(2)}`,
    ]);
  rows.push([`**${SDK_RAW}**, CPU ms`, ...names.map((name) => fixed(choices.byChoice[name][SDK_RAW]?.cpuMs)), '']);
  return markdownTable(['consumer: CPU ÷ SDK raw (90% interval)', ...names, 'target'], rows);
}

function ownCostTable(results) {
  const kinds = ['text', 'thinking'].filter((kind) => results.own.byKind[kind]);
  const names = Object.keys(results.own.byKind[kinds[0]]);
  const rows = names.map((name) => [
    name,
    ...kinds.map((kind) => {
      const own = results.own.byKind[kind][name];
      return `${fixed(own.nsPerEvent, 0)} (${fixed(own.min, 0)} to ${fixed(own.max, 0)})`;
    }),
  ]);
  return markdownTable(['consumer', ...kinds.map((kind) => `${kind}: ns added per event (range)`)], rows);
}

function toolTable(tool) {
  const names = tool.consumers;
  const rows = names.map((name) => {
    const cpu = tool.sizes.map((size) => tool.bySize[size][name]?.cpuMs);
    return [name, ...cpu.map((ms) => fixed(ms)), fixed(cpu[1] / cpu[0], 2), fixed(cpu[2] / cpu[1], 2)];
  });
  rows.push([
    'SDK messages.stream() + inputJson listener (one run)',
    ...tool.sizes.map((size) => fixed(tool.sdkInputJson[size]?.cpuMs)),
    fixed(tool.sdkInputJson[tool.sizes[1]]?.cpuMs / tool.sdkInputJson[tool.sizes[0]]?.cpuMs, 2),
    'not run',
  ]);
  return markdownTable(
    [
      'consumer (CPU ms, median)',
      ...tool.sizes.map(kb),
      `× ${kb(tool.sizes[0])}→${kb(tool.sizes[1])}`,
      `× ${kb(tool.sizes[1])}→${kb(tool.sizes[2])}`,
    ],
    rows,
  );
}

function fastSseTable(fast) {
  const relay = fast.byKind.relay.usPerEvent;
  const raw = fast.byKind['nest-raw']?.usPerEvent;
  const rows = fast.kinds.map((kind) => {
    const entry = fast.byKind[kind];
    return [
      SERVER_LABELS[kind],
      fixed(entry.usPerEvent),
      fixed(entry.usPerEvent / relay, 2),
      raw === undefined ? '–' : fixed(entry.usPerEvent / raw, 2),
      entry.failed,
    ];
  });
  return markdownTable(['server', 'CPU µs / event', '÷ relay', '÷ Nest + SDK raw', 'failed'], rows);
}

function sseTable(sse) {
  const rows = [];
  for (const clients of sse.clientCounts) {
    const relay = sse.byKind.relay[clients];
    for (const kind of sse.kinds) {
      const entry = sse.byKind[kind][clients];
      rows.push([
        SERVER_LABELS[kind],
        clients,
        fixed(entry.usPerEvent),
        fixed(entry.usPerEvent / relay.usPerEvent, 2),
        fixed(entry.p50, 2),
        fixed(entry.p99, 2),
        fixed(entry.idle.heapKB),
        // RSS moves by whole pages and arenas: per stream it means something only for many streams.
        clients >= 1000 ? fixed(entry.idle.rssKB) : '–',
        entry.failed,
      ]);
    }
  }
  return markdownTable(
    [
      'server',
      'clients',
      'CPU µs / event',
      '÷ relay',
      'latency p50 ms',
      'p99 ms',
      'heap KB / idle stream',
      'RSS KB / idle stream',
      'failed',
    ],
    rows,
  );
}

/** What the resume table measures, in one paragraph. */
function resumeExplanation(resume) {
  const events = Object.values(resume.variants)[0].events.toLocaleString('en');
  return [
    'Each variant streams the text case from the fake server through',
    '`claudeStream(client, params).pipe(toSseFrames())` and writes every event, encoded with `encodeSse`, into a',
    'string sink: *plain* numbers the frames itself; *resumable* goes through `streams.start(...)` (`ResumableStreams`',
    'on a `MemoryStreamStore`) and one reader, `stream.read()`; in the last variant the reader leaves at the halfway',
    'event and comes back with `streams.resume(lastId)` once the stream has ended, so that the second half is replayed',
    "from the store. CPU per event is the process's `process.cpuUsage()` over a whole stream ÷ the",
    `${events} events written (\`done\` included), median over fresh processes (${resume.rounds} per variant, rounds`,
    `interleaved; ${resume.warmup} warm-up runs, then ${resume.runs} measured), with the ratio to plain and its 90%`,
    'interval over processes (none for one process). Heap kept per stored event: in each process after its runs, the',
    'heap after two full GCs with one more stream ended but still resumable (the default `ttlMs`, 5 minutes), minus',
    'the same just before it, ÷ its stored events; plain stores nothing, so its figure (÷ events written) is the',
    'noise of the measure.',
  ].join(' ');
}

function resumeTable(resume) {
  const rows = Object.entries(resume.variants).map(([name, entry]) => {
    const stores = RESUME_VARIANTS[name] !== 'plain';
    return [
      stores ? name : `**${name}**`,
      fixed(entry.usPerEvent, 2),
      fixed(entry.ratio, 2),
      // One process per variant (quick mode) gives no interval.
      entry.processes > 1 ? interval(entry) : '',
      fixed(entry.wallMs),
      // The plain variant stores nothing: its figure, per event written, is the measure's noise.
      stores ? fixed(entry.retainedBytesPerEvent, 0) : `none stored (${fixed(entry.retainedBytesPerEvent, 0)})`,
      `${entry.samples} (${entry.processes})`,
    ];
  });
  return markdownTable(
    [
      'variant',
      'CPU µs / event',
      '÷ plain',
      '90% interval',
      'wall ms',
      'heap bytes kept / stored event',
      'runs (processes)',
    ],
    rows,
  );
}

/** How the redis suite's streams are named in its tables. */
function redisCaseLabel(redis, name) {
  const { deltas, paceMs } = redis.cases[name];
  return name === 'paced'
    ? `paced: ${deltas.toLocaleString('en')} deltas, one every ${paceMs} ms`
    : `fast: ${deltas.toLocaleString('en')} deltas at once`;
}

/** What the redis tables measure, in one paragraph. */
function redisExplanation(redis) {
  return [
    `A private redis-server ${redis.version} (127.0.0.1, persistence off) started by the suite. A producing process`,
    'streams from the fake server through `ResumableStreams({ store })` (`streams.create()`, `produce(...)`) with',
    'one local reader; with `RedisStreamStore` (`flushMs` 50, its default), a second process (another instance: its',
    "own ioredis client, store and `ResumableStreams`) reads each stream with `streams.resume('<id>.0')`. Both",
    'readers write every message with `encodeSse` into a string sink. **Commands** are counted at the server by',
    'MONITOR (each connection named by its ioredis `connectionName`; admin commands MONITOR hides, such as `CLIENT',
    'UNBLOCK`, from `INFO commandstats`), from just before the stream is created until both readers have detached,',
    'in runs of their own (MONITOR slows the server): a MULTI…EXEC transaction counts once, the calls a Lua script',
    'makes do not count (they cost no round trip); per second of stream is per stream ÷ the median stream length',
    'of the timed runs, from `produce` until the final event is stored (in Redis, for `RedisStreamStore`). **CPU',
    "per event** is the producing process's `process.cpuUsage()` over that same span ÷ its events, median over",
    `runs (${redis.rounds} ${redis.rounds === 1 ? 'process' : 'processes'} per store, each warmed up by`,
    `${redis.warmup} fast streams and one paced, a full GC before each measured one), with`,
    "the ratio to `MemoryStreamStore` (the resume suite's *resumable* variant) and its",
    '90% interval over processes. **Lag**: for every event, when the reader on the other instance got it minus when',
    'the local reader did (one clock: one machine), over all events of the timed runs.',
  ].join(' ');
}

function redisTable(redis) {
  const rows = [];
  for (const name of REDIS_CASES) {
    for (const [store, label] of Object.entries(REDIS_STORES)) {
      const entry = redis.byCase[name][store];
      const remote = store === 'redis';
      rows.push([
        redisCaseLabel(redis, name),
        remote ? label : `**${label}**`,
        entry.events,
        fixed(entry.wallMs / 1000, 2),
        remote ? fixed(entry.producer.perSecond) : '–',
        remote ? fixed(entry.producer.perEvent, 4) : '–',
        remote ? fixed(entry.reader.perSecond) : '–',
        remote ? fixed(entry.reader.perEvent, 4) : '–',
        fixed(entry.usPerEvent, 2),
        fixed(entry.ratio, 2),
        remote && entry.processes > 1 ? interval(entry) : '',
        remote ? fixed(entry.lag.p50, 1) : '–',
        remote ? fixed(entry.lag.p95, 1) : '–',
        `${entry.samples} (${entry.processes})`,
      ]);
    }
  }
  return markdownTable(
    [
      'stream',
      'store',
      'events',
      'stream s',
      'producer: commands / s',
      'per event',
      'remote reader: commands / s',
      'per event',
      'producer CPU µs / event',
      '÷ memory',
      '90% interval',
      'remote lag p50 ms',
      'p95 ms',
      'runs (processes)',
    ],
    rows,
    ['l', 'l', ...Array(12).fill('r')],
  );
}

/** Which commands each side sends, per stream; and what the producer's scripts run inside Redis. */
function redisBreakdownTable(redis) {
  const list = (byCommand, perStream = (value) => value.perStream) =>
    Object.entries(byCommand)
      .map(([command, value]) => `${command} ${fixed(perStream(value), Number.isInteger(perStream(value)) ? 0 : 1)}`)
      .join(', ');
  const rows = [];
  for (const name of REDIS_CASES) {
    const entry = redis.byCase[name].redis;
    const clients = [
      ['producer', entry.producer],
      ['remote reader', entry.reader],
      ...Object.entries(entry.others).map(([client, summary]) => [`${client} (unexpected)`, summary]),
    ];
    for (const [client, summary] of clients) {
      rows.push([redisCaseLabel(redis, name), client, fixed(summary.perStream, 0), list(summary.byCommand)]);
    }
    const inScripts = Object.values(entry.scriptCallsPerStream).reduce((sum, n) => sum + n, 0);
    rows.push([
      redisCaseLabel(redis, name),
      "producer's scripts (inside EVAL: no round trip)",
      fixed(inScripts, 0),
      list(entry.scriptCallsPerStream, (n) => n),
    ]);
  }
  return markdownTable(['stream', 'client', 'commands / stream', 'by command, per stream'], rows, ['l', 'l', 'r', 'l']);
}

/** The targets of the issue, each with what this run measured. */
function targets(results) {
  const rows = [];
  for (const suiteName of ['text', 'thinking']) {
    const suite = results[suiteName];
    if (!suite) continue;
    for (const [name, limit] of Object.entries(RATIO_TARGETS)) {
      const entry = suite.consumers[name];
      rows.push([
        `${name}, ${suiteName}: CPU ÷ SDK raw ≤ ${limit.toFixed(2)}`,
        `${fixed(entry?.ratio, 2)} (${entry ? interval(entry) : '–'})`,
        ratioVerdict(entry, limit),
      ]);
    }
  }
  const tool = results.tool;
  if (tool) {
    const [small, middle, large] = tool.sizes;
    const at = tool.sdkInputJson[middle] ? middle : small;
    const sdkInputJson = tool.sdkInputJson[at]?.cpuMs;
    for (const name of [RX_ACCUMULATE_INPUT, RX_TOOL_INPUTS]) {
      const cpu = (size) => tool.bySize[size][name]?.cpuMs;
      // Per doubling over the whole range (the geometric mean of the two): one noisy size cannot decide it alone,
      // and a quadratic cost still shows (it would be near 4×).
      const growth = Math.sqrt(cpu(large) / cpu(small));
      rows.push([
        `${name}: linear (2× input → ≤ ${LINEAR_LIMIT}× CPU), per doubling ${kb(small)}→${kb(large)}`,
        `${fixed(growth, 2)}×`,
        verdict(growth <= LINEAR_LIMIT),
      ]);
      const speedup = sdkInputJson / cpu(at);
      rows.push([
        `${name}: ≥ ${SDK_SPEEDUP}× faster than the SDK's inputJson at ${kb(middle)}`,
        `${fixed(speedup, 0)}× (at ${kb(at)})`,
        at === middle ? verdict(speedup >= SDK_SPEEDUP) : 'not run (quick mode)',
      ]);
    }
    // What no consumer of the SDK's stream can beat: reading the events and nothing more.
    rows.push([
      `for scale: the SDK raw stream alone vs the SDK's inputJson at ${kb(at)}`,
      `${fixed(sdkInputJson / tool.bySize[at][SDK_RAW]?.cpuMs, 0)}×`,
      '',
    ]);
  }
  const sse = results.sse;
  if (sse) {
    for (const clients of sse.clientCounts) {
      const ratio = sse.byKind.nest[clients].usPerEvent / sse.byKind.relay[clients].usPerEvent;
      const limit = NEST_TARGETS.cpuRatio;
      rows.push([
        `NestJS SSE, ${clients} clients: server CPU per event ≤ ${limit.toFixed(1)}× relay`,
        `${fixed(ratio, 2)}×`,
        verdict(ratio <= limit),
      ]);
    }
    for (const clients of sse.clientCounts) {
      const { heapKB, rssKB } = sse.byKind.nest[clients].idle;
      const rss = clients >= 1000 ? `, ${fixed(rssKB)} KB RSS` : '';
      const relay = sse.byKind.relay[clients].idle.heapKB;
      const limit = relay + NEST_TARGETS.extraHeapKB;
      rows.push([
        `NestJS SSE, ${clients} open idle streams: heap per stream ≤ relay + ${NEST_TARGETS.extraHeapKB} KB ` +
          `(relay: ${fixed(relay)} KB, so ≤ ${fixed(limit)} KB)`,
        `${fixed(heapKB)} KB heap${rss}`,
        verdict(heapKB <= limit),
      ]);
    }
  }
  const resume = results.resume;
  if (resume) {
    const byVariant = Object.fromEntries(
      Object.entries(resume.variants).map(([name, entry]) => [RESUME_VARIANTS[name], { name, ...entry }]),
    );
    for (const variant of ['resumable', 'resume']) {
      const entry = byVariant[variant];
      rows.push([
        `${entry.name}: CPU per event ÷ plain`,
        `${fixed(entry.ratio, 2)} (${entry.processes > 1 ? interval(entry) : 'one process'})`,
        'reported',
      ]);
    }
    const bytes = (variant) => fixed(byVariant[variant].retainedBytesPerEvent, 0);
    rows.push([
      `resumable stream, ended and kept for its ttl: heap per stored event (plain, storing nothing: ${bytes('plain')} B)`,
      `${bytes('resumable')} B (after a resume: ${bytes('resume')} B)`,
      'reported',
    ]);
  }
  const redis = results.redis;
  if (redis?.skipped) rows.push(['RedisStreamStore (redis suite)', 'skipped', redis.skipped]);
  else if (redis) {
    const paced = redis.byCase.paced.redis;
    const fast = redis.byCase.fast.redis;
    rows.push(
      [
        'RedisStreamStore, paced stream: Redis commands per second of stream, producer + remote reader',
        `${fixed(paced.producer.perSecond)} + ${fixed(paced.reader.perSecond)} (per event: ` +
          `${fixed(paced.producer.perEvent, 2)} + ${fixed(paced.reader.perEvent, 2)})`,
        'reported',
      ],
      [
        'RedisStreamStore: producer CPU per event ÷ MemoryStreamStore, paced; fast',
        `${fixed(paced.ratio, 2)}; ${fixed(fast.ratio, 2)}`,
        'reported',
      ],
      [
        "RedisStreamStore: remote reader's lag p50 / p95, paced; fast",
        `${fixed(paced.lag.p50, 1)} / ${fixed(paced.lag.p95, 1)} ms; ${fixed(fast.lag.p50, 1)} / ${fixed(fast.lag.p95, 1)} ms`,
        'reported',
      ],
    );
  }
  return markdownTable(['target', 'measured', ''], rows, ['l', 'r', 'l']);
}

export function render(results) {
  const env = results.environment;
  const parts = [
    `### Last run: ${env.mode} mode, ${env.date}`,
    '',
    `\`${env.command}\` on ${env.cpu} cores, ${env.memory}, ${env.os}, Node ${env.node}; load average at start ${env.loadAverage}; took ${env.durationS} s.`,
    `Versions: ${Object.entries(env.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    '#### Targets',
    '',
    targets(results),
  ];
  if (results.own) {
    parts.push(
      '',
      `#### What each layer adds per event over parsed events, measured apart (no network, no decoding; \`toSse\` serializes every event here, as parsed events have no wire data): 20,000 events, ${results.own.processes} processes`,
      '',
      ownCostTable(results),
    );
  }
  if (results.text) {
    parts.push(
      '',
      `#### Many small text deltas: ${results.text.deltas.toLocaleString('en')} deltas of 4 characters`,
      '',
      streamTable(results.text),
    );
  }
  if (results.thinking) {
    parts.push(
      '',
      `#### Thinking then text: ${(results.thinking.deltas / 2).toLocaleString('en')} thinking deltas, then as many text deltas`,
      '',
      streamTable(results.thinking),
    );
  }
  if (results.choices) {
    const { choices } = results;
    parts.push(
      '',
      `#### Harness choices: the text case (${choices.deltas.toLocaleString('en')} deltas) measured each other way, one choice at a time; ${choices.group.rounds} processes per consumer and choice`,
      '',
      choicesTable(choices),
    );
  }
  if (results.tool) {
    parts.push(
      '',
      '#### One tool input in 16-byte deltas: CPU ms by input size, and growth per doubling',
      '',
      toolTable(results.tool),
    );
  }
  if (results.sse) {
    const sse = results.sse;
    parts.push(
      '',
      `#### NestJS SSE: each client streams ${sse.deltas} deltas, one every ${sse.paceMs} ms, starts spread over ${sse.rampMs} ms; ${sse.rounds} round(s), median`,
      '',
      sseTable(sse),
    );
    if (sse.fast) {
      parts.push(
        '',
        `#### NestJS SSE, fast answers: ${sse.fast.clients} clients, each streams ${sse.fast.deltas} deltas as fast as the upstream sends them; the module's retry, timeout and heartbeat off; ${sse.fast.rounds} rounds, median`,
        '',
        fastSseTable(sse.fast),
      );
    }
  }
  if (results.resume) {
    const resume = results.resume;
    parts.push(
      '',
      `#### Resumable streams: ${resume.deltas.toLocaleString('en')} deltas of 4 characters; CPU per event, heap kept`,
      '',
      resumeExplanation(resume),
      '',
      resumeTable(resume),
    );
  }
  if (results.redis?.skipped) {
    parts.push('', '#### Resumable streams on Redis', '', `Skipped: ${results.redis.skipped}.`);
  } else if (results.redis) {
    const redis = results.redis;
    parts.push(
      '',
      `#### Resumable streams on Redis: \`RedisStreamStore\` (\`flushMs\` ${redis.flushMs}) against \`MemoryStreamStore\`; commands, CPU, remote lag`,
      '',
      redisExplanation(redis),
      '',
      redisTable(redis),
      '',
      'Commands per stream, by client and command (counted runs; the producing process also holds one connection',
      'subscribed to the stop channel, which sends nothing while subscribed):',
      '',
      redisBreakdownTable(redis),
    );
  }
  return parts.join('\n');
}

/** Replaces what is between the markers of `file` with `markdown` (appends the markers if they are missing). */
export function writeInto(file, markdown) {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER);
  const block = `${START_MARKER}\n\n${markdown}\n\n${END_MARKER}`;
  const next =
    start >= 0 && end > start
      ? text.slice(0, start) + block + text.slice(end + END_MARKER.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
