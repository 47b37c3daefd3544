import type Anthropic from '@anthropic-ai/sdk';
import { config, Observable, type OperatorFunction } from 'rxjs';
import { mergeUsage } from '../internal/merge-usage.js';
import { isStreamRestart, type ClaudeRxEvent } from '../types.js';

/** How the stream that `tokenUsage` watched ended. */
export type TokenUsageEnd = 'complete' | 'error' | 'unsubscribe';

/** Options of `tokenUsage`. */
export interface TokenUsageOptions {
  /**
   * Called exactly once when the stream ends, however it ends, with the last usage known (or `undefined` if
   * `message_start` never came). This is the place for billing and logs: it runs even when the subscriber
   * unsubscribes (a closed browser tab) or the stream fails, when nothing can be emitted anymore.
   * An exception thrown here is reported to the error stream if it still can be (replacing the source's error, if
   * any), and otherwise, after an unsubscribe, to RxJS's unhandled error path: asynchronously, to
   * `config.onUnhandledError` when set, else rethrown.
   * @defaultValue none
   */
  readonly onEnd?: (usage: Anthropic.Messages.Usage | undefined, end: TokenUsageEnd) => void;
}

/**
 * Reports token usage as it grows: input and cache tokens from `message_start`, the running output count from each
 * `message_delta`.
 *
 * - next: a frozen `Usage` after `message_start` and after each `message_delta` (input, output, cache creation and
 *   cache read tokens, server tool use); a new `message_start` (or a `stream_restart` marker) starts a new count;
 * - error, complete: the source's, after `onEnd` has been called with the last usage;
 * - unsubscribe: unsubscribes the source, then calls `onEnd(lastUsage, 'unsubscribe')`.
 *
 * @param options `onEnd`, to receive the last usage however the stream ends.
 * @returns An operator from stream events to usage snapshots.
 *
 * @example
 * ```ts
 * import { claudeStream, tokenUsage } from 'claude-rx';
 *
 * claudeStream(client, params)
 *   .pipe(tokenUsage({ onEnd: (usage, end) => billing.record(usage, end) }))
 *   .subscribe((usage) => progress.update(usage.output_tokens));
 * ```
 */
export function tokenUsage(options: TokenUsageOptions = {}): OperatorFunction<ClaudeRxEvent, Anthropic.Messages.Usage> {
  const onEnd = options.onEnd;
  if (onEnd !== undefined && typeof onEnd !== 'function') {
    throw new TypeError('tokenUsage: options.onEnd must be a function');
  }
  return (source) =>
    new Observable<Anthropic.Messages.Usage>((subscriber) => {
      let usage: Anthropic.Messages.Usage | undefined;
      let last: Anthropic.Messages.Usage | undefined;
      let ended = false;
      // Calls onEnd once; returns what it threw, wrapped so that a falsy exception (`throw 0`) still counts.
      const end = (how: TokenUsageEnd): { readonly thrown: unknown } | undefined => {
        if (ended) return undefined;
        ended = true;
        try {
          onEnd?.(last, how);
          return undefined;
        } catch (thrown) {
          return { thrown };
        }
      };
      const subscription = source.subscribe({
        next(event) {
          if (isStreamRestart(event)) {
            usage = undefined;
            return;
          }
          if (event.type === 'message_start') usage = { ...event.message.usage };
          else if (event.type === 'message_delta' && usage) mergeUsage(usage, event.usage);
          else return;
          last = Object.freeze({ ...usage });
          subscriber.next(last);
        },
        error(error: unknown) {
          const failure = end('error');
          subscriber.error(failure ? failure.thrown : error);
        },
        complete() {
          const failure = end('complete');
          if (failure) subscriber.error(failure.thrown);
          else subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        const failure = end('unsubscribe');
        if (failure) reportUnhandled(failure.thrown);
      };
    });
}

/** Reports an error nobody can receive anymore as RxJS does for an error without a handler: asynchronously. */
function reportUnhandled(error: unknown): void {
  setTimeout(() => {
    const onUnhandledError = config.onUnhandledError;
    if (onUnhandledError) onUnhandledError(error);
    else throw error;
  });
}
