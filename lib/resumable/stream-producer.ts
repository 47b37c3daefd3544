import type { Observable, Subscription } from 'rxjs';
import { describeFailure } from '../sse/describe-failure.js';
import type { SseErrorData, SseFrame, SseStoppedData } from '../sse/sse-frame.js';
import { streamCounters } from '../telemetry/stream-counters.js';
import type { StoredEvent, StreamStore } from './stream-store.js';

/** The settings a producer runs with (validated by `ResumableStreams`). */
export interface ProducerSettings {
  readonly graceMs: number;
  readonly leaseMs: number;
  /** How often remote readers' presence is looked at again while they are attached. */
  readonly presenceCheckMs: number;
}

/**
 * One copy of each event name for every stored event: the names come from `JSON.parse`, which makes a new string per
 * event for names this long, and a stream keeps tens of thousands of them.
 */
const TYPE_NAMES = new Map<string, string>();
const MAX_TYPE_NAMES = 256;

function internedType(type: string): string {
  const known = TYPE_NAMES.get(type);
  if (known !== undefined) return known;
  if (TYPE_NAMES.size < MAX_TYPE_NAMES) TYPE_NAMES.set(type, type);
  return type;
}

function stoppedFrame(reason: SseStoppedData['reason']): SseFrame {
  const data: SseStoppedData = { reason };
  return { type: 'stopped', data: JSON.stringify(data) };
}

function errorFrame(error: unknown): SseFrame {
  const { type, message, retryable } = describeFailure(error);
  const data: SseErrorData = { type, message, retryable };
  return { type: 'error', data: JSON.stringify(data) };
}

/**
 * Runs one resumable stream in this process, apart from its readers: subscribes to its frames, stores each with its
 * position (a batch per store round trip: while one append is in flight, the next frames wait and go together),
 * renews its lease, obeys stop requests from any instance, and aborts the source once no reader has been attached for
 * `graceMs`. It ends the stream with a final event in every case: the source's own last frame (`done` or `error`),
 * an `error` frame if the source failed, or `stopped`.
 */
export class StreamProducer {
  private position = 0;
  private readonly pending: StoredEvent[] = [];
  private appending = false;
  /** The final event is decided (nothing more is taken from the source). */
  private finishing = false;
  private finalSent = false;
  private source: Subscription | undefined;
  private stopWatch: Subscription | undefined;
  private leaseTimer: ReturnType<typeof setInterval> | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private localReaders = 0;
  /** Since when no reader has been seen (local or remote); `undefined` while one is. */
  private idleSince: number | undefined;

  constructor(
    readonly streamId: string,
    private readonly store: StreamStore,
    private readonly settings: ProducerSettings,
    /** Called once the stream's final event is stored (or could not be). */
    private readonly onEnd: () => void,
  ) {}

  /** Told why the stream was stopped, before its source is unsubscribed. */
  private onStopped: ((reason: SseStoppedData['reason']) => void) | undefined;

  /** Starts taking `frames`, at once; `onStopped` is told why, if the stream is stopped (`stop`, `no_reader`). */
  run(frames: Observable<SseFrame>, onStopped?: (reason: SseStoppedData['reason']) => void): void {
    this.onStopped = onStopped;
    streamCounters()?.open.add(1);
    this.stopWatch = this.store.stopRequests(this.streamId).subscribe(() => this.stop('stop'));
    if (this.finishing) return;
    const { leaseMs } = this.settings;
    this.leaseTimer = setInterval(() => {
      // A failed renewal is retried at the next tick; the lease is three ticks long.
      this.store.renewLease(this.streamId, leaseMs).catch(() => undefined);
    }, leaseMs / 3);
    this.leaseTimer.unref?.();
    if (this.localReaders === 0) this.startIdle();
    const subscription = frames.subscribe({
      next: (frame) => this.enqueue(frame),
      error: (error: unknown) => this.finish(errorFrame(error)),
      complete: () => this.finish(undefined),
    });
    // The source may have ended, or been stopped, synchronously.
    if (this.finishing) subscription.unsubscribe();
    else this.source = subscription;
  }

  /** A reader in this process attached. */
  readerAttached(): void {
    this.localReaders += 1;
    this.idleSince = undefined;
    clearTimeout(this.graceTimer);
  }

  /** A reader in this process left. */
  readerDetached(): void {
    this.localReaders -= 1;
    if (this.localReaders === 0 && !this.finishing) this.startIdle();
  }

  private startIdle(): void {
    this.idleSince = Date.now();
    this.armGrace(this.settings.graceMs);
  }

  private armGrace(ms: number): void {
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => void this.checkReaders(), ms);
    this.graceTimer.unref?.();
  }

  /** No local reader for a while: are there remote ones (they count as attached too)? */
  private async checkReaders(): Promise<void> {
    let attached: boolean;
    try {
      attached = await this.store.hasReaders(this.streamId);
    } catch {
      // The store cannot say: keep the stream, look again later.
      attached = true;
    }
    if (this.finishing || this.localReaders > 0) return;
    const now = Date.now();
    if (attached) {
      this.idleSince = undefined;
      this.armGrace(this.settings.presenceCheckMs);
      return;
    }
    this.idleSince ??= now;
    const idleFor = now - this.idleSince;
    if (idleFor >= this.settings.graceMs) this.stop('no_reader');
    else this.armGrace(this.settings.graceMs - idleFor);
  }

  private enqueue(frame: SseFrame): void {
    if (this.finishing) return;
    this.position += 1;
    this.pending.push({ position: this.position, type: internedType(frame.type), data: frame.data });
    this.flush();
  }

  /** Ends the stream: `frame` (if any) is its final event; the source is unsubscribed, which aborts the request. */
  /** Ends the stream with `stopped`: counted, and told before its source is unsubscribed (which aborts upstream). */
  private stop(reason: SseStoppedData['reason']): void {
    if (this.finishing) return;
    const counters = streamCounters();
    if (reason === 'stop') counters?.stopped.add(1);
    else counters?.graceAborted.add(1);
    this.onStopped?.(reason);
    this.finish(stoppedFrame(reason));
  }

  private finish(frame: SseFrame | undefined): void {
    if (this.finishing) return;
    if (frame) this.enqueue(frame);
    this.finishing = true;
    clearTimeout(this.graceTimer);
    clearInterval(this.leaseTimer);
    this.stopWatch?.unsubscribe();
    const source = this.source;
    this.source = undefined;
    source?.unsubscribe();
    this.flush();
  }

  private flush(): void {
    if (this.appending || this.finalSent) return;
    if (this.pending.length === 0 && !this.finishing) return;
    const batch = this.pending.splice(0);
    const final = this.finishing;
    this.appending = true;
    this.store.append(this.streamId, batch, final).then(
      () => {
        this.appending = false;
        if (final) {
          this.finalSent = true;
          this.ended();
        } else this.flush();
      },
      () => {
        // The store refused (the stream expired under us, or the store failed): its readers have been told by the
        // store; nothing more can be stored, so the source is stopped rather than paid for in vain.
        this.appending = false;
        this.finalSent = true;
        this.finishing = true;
        clearTimeout(this.graceTimer);
        clearInterval(this.leaseTimer);
        this.stopWatch?.unsubscribe();
        this.source?.unsubscribe();
        this.ended();
      },
    );
  }

  /** The final event is stored (or could not be): the stream is no longer produced here. */
  private ended(): void {
    streamCounters()?.open.add(-1);
    this.onEnd();
  }
}
