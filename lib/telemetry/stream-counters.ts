import type { Counter, UpDownCounter } from '@opentelemetry/api';
import { lazyInstruments } from './lazy-instruments.js';

/**
 * The counters of resumable streams (`ResumableStreams`, and `sse()` / `sseRunTools()` in resume mode), under
 * claude-rx's meter:
 *
 * - `claude_rx.streams.open` (up-down): streams being produced by this instance now;
 * - `claude_rx.streams.resumed`: resumes answered with events (a reader came back by `Last-Event-ID`);
 * - `claude_rx.streams.stopped`: streams ended by `stop()`;
 * - `claude_rx.streams.grace_aborted`: streams aborted because no reader was attached for `graceMs`.
 */
export const STREAM_COUNTERS = {
  open: 'claude_rx.streams.open',
  resumed: 'claude_rx.streams.resumed',
  stopped: 'claude_rx.streams.stopped',
  graceAborted: 'claude_rx.streams.grace_aborted',
} as const;

interface StreamCounters {
  readonly open: UpDownCounter;
  readonly resumed: Counter;
  readonly stopped: Counter;
  readonly graceAborted: Counter;
}

/** The counters, of the app's meter provider at the time of each count; `undefined` without one. */
export const streamCounters = lazyInstruments<StreamCounters>((meter) => ({
  open: meter.createUpDownCounter(STREAM_COUNTERS.open, {
    unit: '{stream}',
    description: 'Resumable streams being produced by this instance.',
  }),
  resumed: meter.createCounter(STREAM_COUNTERS.resumed, {
    unit: '{stream}',
    description: 'Resumes of a stream by Last-Event-ID that were answered with its events.',
  }),
  stopped: meter.createCounter(STREAM_COUNTERS.stopped, { unit: '{stream}', description: 'Streams ended by stop().' }),
  graceAborted: meter.createCounter(STREAM_COUNTERS.graceAborted, {
    unit: '{stream}',
    description: 'Streams aborted because no reader was attached for graceMs.',
  }),
}));
