import type Anthropic from '@anthropic-ai/sdk';
import { defer, tap, type MonoTypeOperatorFunction } from 'rxjs';
import { MessageDraft } from '../internal/message-draft.js';
import { reportUnhandled } from '../internal/report-unhandled.js';
import { sumUsage } from '../internal/sum-usage.js';
import { isRunToolsMarker } from '../run-tools-markers.js';
import { isStreamRestart, type ClaudeRxEvent } from '../types.js';

/**
 * What `onFinish` reports, once per subscription, however the stream ended.
 *
 * @example
 * ```ts
 * import type { StreamFinish } from 'claude-rx';
 * const bill = ({ usage, lowerBound }: StreamFinish) => ledger.add(usage?.output_tokens ?? 0, { estimate: lowerBound });
 * ```
 */
export interface StreamFinish {
  /** How it ended: completed, failed, or its subscriber left first. */
  readonly end: 'complete' | 'error' | 'unsubscribe';
  /** What it failed with, for `end: 'error'`. */
  readonly error?: unknown;
  /**
   * The last message of the stream (of a `runTools` run: the last turn's): whole after `message_stop`, else as far as
   * it arrived; `undefined` when no `message_start` came.
   */
  readonly message: Anthropic.Messages.Message | undefined;
  /** The usage summed over every message (every turn, every restarted attempt); `undefined` when none started. */
  readonly usage: Anthropic.Messages.Usage | undefined;
  /** A message was cut before its final `message_delta`: `usage` is a lower bound of what was billed. */
  readonly lowerBound: boolean;
}

/**
 * Calls `callback` once per subscription when the stream ends, however it ends (complete, error, unsubscribe), with
 * the last message (whole or partial) and the usage summed over every message: where an app saves an answer nobody
 * was reading any more, and bills. Events pass through unchanged.
 *
 * - next, complete, error: as the source's, after `callback` on the end (what `callback` throws there becomes the
 *   error);
 * - unsubscribe: `callback` with `end: 'unsubscribe'`; what it throws then is reported as RxJS reports an unhandled
 *   error.
 *
 * @param callback Told how the stream ended.
 * @returns An operator that leaves the events as they are.
 *
 * @example
 * ```ts
 * import { claudeStream, onFinish, textOnly } from 'claude-rx';
 *
 * claudeStream(client, params)
 *   .pipe(onFinish(({ end, message, usage }) => answers.save({ end, text: message?.content, usage })), textOnly())
 *   .subscribe((text) => process.stdout.write(text));
 * ```
 */
export function onFinish<T extends ClaudeRxEvent>(
  callback: (finish: StreamFinish) => void,
): MonoTypeOperatorFunction<T> {
  if (typeof callback !== 'function') throw new TypeError('onFinish: callback must be a function');
  return (source) =>
    defer(() => {
      const draft = new MessageDraft();
      let earlier: Anthropic.Messages.Usage | undefined;
      let last: Anthropic.Messages.Message | undefined;
      // The current message's final usage (its `message_delta`) arrived.
      let finalUsage = false;
      let lowerBound = false;
      let ended = false;

      // The current message joins the ones before: at the next message_start, a restart, or the end.
      const closeMessage = () => {
        if (!draft.started) return;
        last = draft.toMessage();
        if (!finalUsage) lowerBound = true;
        if (last) earlier = sumUsage(earlier, last.usage);
        draft.reset();
        finalUsage = false;
      };
      // Calls back once; returns what it threw, wrapped so that a falsy exception (`throw 0`) still counts.
      const end = (how: StreamFinish['end'], error?: unknown): { readonly thrown: unknown } | undefined => {
        if (ended) return undefined;
        ended = true;
        closeMessage();
        try {
          callback({
            end: how,
            ...(how === 'error' ? { error } : {}),
            message: last,
            usage: earlier === undefined ? undefined : Object.freeze({ ...earlier }),
            lowerBound,
          });
          return undefined;
        } catch (thrown) {
          return { thrown };
        }
      };
      // `tap`, so that a subscriber leaving inside `next` stops a synchronous source at once, and is told as such.
      return source.pipe(
        tap({
          next(event) {
            if (isStreamRestart(event)) closeMessage();
            else if (!isRunToolsMarker(event)) {
              if (event.type === 'message_start') closeMessage();
              else if (event.type === 'message_delta') finalUsage = true;
              draft.apply(event);
            }
          },
          error(error: unknown) {
            const failure = end('error', error);
            // Thrown here, it is the error the subscriber gets.
            if (failure) throw failure.thrown;
          },
          complete() {
            const failure = end('complete');
            if (failure) throw failure.thrown;
          },
          unsubscribe() {
            const failure = end('unsubscribe');
            if (failure) reportUnhandled(failure.thrown);
          },
        }),
      );
    });
}
