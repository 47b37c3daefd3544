import type { Logger } from '@nestjs/common';
import { identity, type MonoTypeOperatorFunction } from 'rxjs';
import { onFinish as onStreamFinish, type ClaudeRxEvent, type StreamFinish } from '../lib/index.js';
import type { ClaudeFinishInfo, ClaudeFinishOutcome } from './claude-finish-info.js';
import { ClaudeStreamShutdownError } from './claude-stream-shutdown.error.js';
import type { ClaudeStreamConfig } from './claude-stream.options.js';
import type { StoppedBy } from './resumable-sse-responder.js';

/** What the service knows of a call besides its events: whose it is, and why a resumable stream was stopped. */
export interface FinishContext {
  readonly owner?: string | undefined;
  readonly stopped?: StoppedBy;
}

/** The outcome of a call, from how its events ended and why. */
function outcomeOf(finish: StreamFinish, context: FinishContext): ClaudeFinishOutcome {
  switch (finish.end) {
    case 'complete':
      return 'complete';
    case 'error':
      return finish.error instanceof ClaudeStreamShutdownError ? 'shutdown' : 'error';
    case 'unsubscribe': {
      const reason = context.stopped?.reason;
      return reason === 'stop' ? 'stopped' : reason === 'no_reader' ? 'grace_aborted' : 'client_gone';
    }
    default: {
      const unknown: never = finish.end;
      return unknown;
    }
  }
}

/**
 * Calls the module's `onFinish` once per call or run, however it ends; what it throws or rejects with is logged by
 * its class only (its message may hold what the app put there) and never reaches the stream.
 */
export class FinishReporter {
  constructor(
    private readonly onFinish: ClaudeStreamConfig['onFinish'],
    private readonly logger: Logger,
  ) {}

  /** The events of a call of `model`, reported when they end; unchanged (and nothing added) without `onFinish`. */
  reported<T extends ClaudeRxEvent>(
    call: ClaudeFinishInfo['call'],
    model: string,
    context: FinishContext,
  ): MonoTypeOperatorFunction<T> {
    const { onFinish } = this;
    if (!onFinish) return identity;
    return onStreamFinish<T>((finish) =>
      this.call(onFinish, {
        call,
        outcome: outcomeOf(finish, context),
        ...(finish.end === 'error' ? { error: finish.error } : {}),
        message: finish.message,
        usage: finish.usage,
        lowerBound: finish.lowerBound,
        model,
        owner: context.owner,
      }),
    );
  }

  private call(onFinish: NonNullable<ClaudeStreamConfig['onFinish']>, info: ClaudeFinishInfo): void {
    const failed = (error: unknown) =>
      this.logger.warn(
        `onFinish failed (${error instanceof Error ? error.name : typeof error}); the stream was not affected`,
      );
    try {
      const result = onFinish(info);
      if (result instanceof Promise) result.catch(failed);
    } catch (error) {
      failed(error);
    }
  }
}
