import type Anthropic from '@anthropic-ai/sdk';
import { Observable, type OperatorFunction } from 'rxjs';
import type { ClaudeRxEvent } from '../types.js';

type MessageParam = Anthropic.Messages.MessageParam;

/**
 * Waits for the end of a `runTools` conversation and emits the whole conversation once, as `MessageParam`s: the
 * request's messages, then every assistant turn and every user turn of tool results, ending with the last assistant
 * message.
 *
 * - next: the conversation (frozen), once, when the source completes (nothing if no turn ended);
 * - error: the source's (`MaxTurnsExceededError` carries the conversation as `.messages`);
 * - unsubscribe: unsubscribes the source, which aborts the request or tools in progress.
 *
 * @returns An operator from `runTools` events to the final conversation.
 *
 * @example
 * ```ts
 * import { lastValueFrom } from 'rxjs';
 * import { finalConversation, runTools } from 'claude-rx';
 *
 * const conversation = await lastValueFrom(runTools(client, params, { tools }).pipe(finalConversation()));
 * console.log(conversation.at(-1)?.content); // ready to continue: append a user message and call again
 * ```
 */
export function finalConversation(): OperatorFunction<ClaudeRxEvent, readonly MessageParam[]> {
  return (source) =>
    new Observable<readonly MessageParam[]>((subscriber) => {
      let messages: readonly MessageParam[] | undefined;
      const subscription = source.subscribe({
        next(event) {
          if (event.type === 'turn_end') messages = event.messages;
        },
        error: (error: unknown) => subscriber.error(error),
        complete() {
          if (messages) subscriber.next(messages);
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        messages = undefined;
      };
    });
}

/**
 * The former name of `finalConversation`, too close to `finalMessage` (one message) for what it gives.
 *
 * @deprecated Use `finalConversation()`.
 * @returns The same operator as `finalConversation()`.
 *
 * @example
 * ```ts
 * import { finalConversation } from 'claude-rx'; // instead of finalMessages
 * ```
 */
export function finalMessages(): OperatorFunction<ClaudeRxEvent, readonly MessageParam[]> {
  return finalConversation();
}
