import type Anthropic from '@anthropic-ai/sdk';
import { Observable, type OperatorFunction } from 'rxjs';
import { IncompleteStreamError } from '../errors.js';
import { MessageDraft } from '../internal/message-draft.js';
import { rememberPartialMessage } from '../internal/partial-messages.js';
import { isStreamRestart, type ClaudeRxEvent } from '../types.js';

/**
 * Waits for the end of the stream and emits the complete message once, like the SDK's `finalMessage()`.
 *
 * - next: the `Message` (equal to the SDK's `finalMessage()` for the same stream), once, when the source completes;
 * - error: `IncompleteStreamError` with `.partial` if the source completed without `message_stop`;
 *   `ToolInputParseError` (with `.partial`) if a tool call's input is not JSON, as the SDK's `finalMessage()` rejects
 *   (a tool must never run on a repaired value); the source's error otherwise, unchanged, with the message so far
 *   reachable through `partialMessageOf(error)`;
 * - unsubscribe: unsubscribes the source (which aborts the request) and drops what was gathered.
 *
 * The partial message is safe to send back as an assistant turn: a thinking block whose signature never came and
 * empty text blocks are left out. Cost per event is keeping one more piece of text; text is joined and tool input
 * parsed once, at the end.
 *
 * @returns An operator from stream events to one final message.
 *
 * @example
 * ```ts
 * import { firstValueFrom } from 'rxjs';
 * import { claudeStream, finalMessage } from 'claude-rx';
 *
 * const message = await firstValueFrom(claudeStream(client, params).pipe(finalMessage()));
 * console.log(message.usage.output_tokens, message.stop_reason);
 * ```
 */
export function finalMessage(): OperatorFunction<ClaudeRxEvent, Anthropic.Messages.Message> {
  return (source) =>
    new Observable<Anthropic.Messages.Message>((subscriber) => {
      const draft = new MessageDraft();
      const subscription = source.subscribe({
        next(event) {
          if (isStreamRestart(event)) draft.reset();
          else draft.apply(event);
        },
        error(error: unknown) {
          // What had arrived stays reachable through `partialMessageOf`, whichever operator upstream failed.
          // (`toMessage` is undefined before `message_start`: nothing is remembered then.)
          rememberPartialMessage(error, draft.toMessage({ resendable: true }));
          subscriber.error(error);
        },
        complete() {
          const failure = draft.stopped
            ? draft.firstToolInputError()
            : new IncompleteStreamError(draft.toMessage({ resendable: true }));
          if (failure) {
            subscriber.error(failure);
            return;
          }
          subscriber.next(draft.toMessage()!);
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        draft.reset();
      };
    });
}
