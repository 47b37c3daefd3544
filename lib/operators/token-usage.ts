import type Anthropic from '@anthropic-ai/sdk';
import { Observable, type OperatorFunction } from 'rxjs';
import { mergeUsage } from '../internal/merge-usage.js';
import { reportUnhandled } from '../internal/report-unhandled.js';
import { sumUsage } from '../internal/sum-usage.js';
import { isStreamRestart, type ClaudeRxEvent } from '../types.js';

/** How the stream that `tokenUsage` watched ended. */
export type TokenUsageEnd = 'complete' | 'error' | 'unsubscribe';

/**
 * What `onEnd` is told besides the total.
 *
 * @example
 * ```ts
 * import { tokenUsage, type TokenUsageEndInfo } from 'claude-rx';
 *
 * const bill = (info: TokenUsageEndInfo) => (info.lowerBound ? 'at least' : 'exactly');
 * tokenUsage({ onEnd: (total, end, info) => console.log(bill(info), total?.output_tokens, 'output tokens') });
 * ```
 */
export interface TokenUsageEndInfo {
  /**
   * `true` when a message counted was cut short before its final `message_delta` (a dropped connection, an
   * unsubscribe, a restarted attempt): the API sends output tokens only there, so what was billed may be more than
   * the figure. `false` when every message's usage is final.
   */
  readonly lowerBound: boolean;
  /** The usage of each message counted, in order: every turn of `runTools`, every attempt of a retry. */
  readonly messages: readonly Anthropic.Messages.Usage[];
}

/** Options of `tokenUsage`. */
export interface TokenUsageOptions {
  /**
   * What each emitted `Usage` covers: `total`, everything the stream has billed so far (every message of a `runTools`
   * run, and the attempts that `retryOnRateLimit` restarted); `message`, the current message alone (it starts again at
   * each `message_start`).
   * @defaultValue 'total'
   */
  readonly scope?: 'total' | 'message';
  /**
   * Called exactly once when the stream ends, however it ends, with the total usage (every message counted, whatever
   * `scope` says; `undefined` if `message_start` never came), how it ended, and the per-message figures with a
   * `lowerBound` flag. This is the place for billing and logs: it runs even when the subscriber unsubscribes (a closed
   * browser tab) or the stream fails, when nothing can be emitted anymore.
   * An exception thrown here is reported to the error stream if it still can be (replacing the source's error, if
   * any), and otherwise, after an unsubscribe, to RxJS's unhandled error path: asynchronously, to
   * `config.onUnhandledError` when set, else rethrown.
   * @defaultValue none
   */
  readonly onEnd?: (usage: Anthropic.Messages.Usage | undefined, end: TokenUsageEnd, info: TokenUsageEndInfo) => void;
}

/**
 * Reports token usage as it grows: input and cache tokens from `message_start`, the running output count from each
 * `message_delta`, summed over every message the stream carries.
 *
 * - next: a frozen `Usage` after each `message_start` and each `message_delta`: by default the total so far (input,
 *   output, cache creation and cache read tokens, server tool use, added over every message: each turn of `runTools`,
 *   and each attempt that `retryOnRateLimit` restarted, whose tokens were billed too); with `scope: 'message'`, the
 *   current message's own;
 * - error, complete: the source's, after `onEnd` has been called with the total;
 * - unsubscribe: unsubscribes the source, then calls `onEnd(total, 'unsubscribe', info)`.
 *
 * Output tokens arrive only in a message's last `message_delta`: for a stream cut short, the figure is a lower bound,
 * and `onEnd`'s `info.lowerBound` says so.
 *
 * @param options `scope` of the emitted figures, and `onEnd`, to receive the total however the stream ends.
 * @returns An operator from stream events to usage snapshots.
 *
 * @example
 * ```ts
 * import { runTools, tokenUsage } from 'claude-rx';
 *
 * runTools(client, params, { tools })
 *   .pipe(
 *     tokenUsage({
 *       onEnd: (total, end, { lowerBound }) => billing.record({ total, end, exact: !lowerBound }),
 *     }),
 *   )
 *   .subscribe((total) => progress.update(total.output_tokens));
 * ```
 */
export function tokenUsage(options: TokenUsageOptions = {}): OperatorFunction<ClaudeRxEvent, Anthropic.Messages.Usage> {
  if (options === null || typeof options !== 'object') throw new TypeError('tokenUsage: options must be an object');
  const { onEnd, scope = 'total' } = options;
  if (onEnd !== undefined && typeof onEnd !== 'function') {
    throw new TypeError('tokenUsage: options.onEnd must be a function');
  }
  if (scope !== 'total' && scope !== 'message') {
    throw new TypeError(`tokenUsage: options.scope must be 'total' or 'message', got ${JSON.stringify(scope)}`);
  }
  return (source) =>
    new Observable<Anthropic.Messages.Usage>((subscriber) => {
      /** The messages before the current one, added up. */
      let before: Anthropic.Messages.Usage | undefined;
      /** The current message's usage, updated in place; never handed out. */
      let current: Anthropic.Messages.Usage | undefined;
      /** Its final `message_delta` came. */
      let currentIsFinal = false;
      let lowerBound = false;
      const messages: Anthropic.Messages.Usage[] = [];
      let ended = false;

      // The current message joins the ones before: at the next message_start, a restart, or the end.
      const closeMessage = () => {
        if (!current) return;
        if (!currentIsFinal) lowerBound = true;
        messages.push(Object.freeze({ ...current }));
        before = sumUsage(before, current);
        current = undefined;
      };
      // Calls onEnd once; returns what it threw, wrapped so that a falsy exception (`throw 0`) still counts.
      const end = (how: TokenUsageEnd): { readonly thrown: unknown } | undefined => {
        if (ended) return undefined;
        ended = true;
        closeMessage();
        const total = before && Object.freeze({ ...before });
        try {
          onEnd?.(total, how, { lowerBound, messages: Object.freeze([...messages]) });
          return undefined;
        } catch (thrown) {
          return { thrown };
        }
      };
      const subscription = source.subscribe({
        next(event) {
          if (isStreamRestart(event)) {
            // The attempt's tokens were billed all the same: they stay in the total.
            closeMessage();
            return;
          }
          if (event.type === 'message_start') {
            closeMessage();
            current = { ...event.message.usage };
            currentIsFinal = false;
          } else if (event.type === 'message_delta' && current) {
            mergeUsage(current, event.usage);
            currentIsFinal = true;
          } else return;
          subscriber.next(Object.freeze(scope === 'message' ? { ...current } : sumUsage(before, current)));
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
