import type Anthropic from '@anthropic-ai/sdk';
import { IncompleteStreamError, ToolInputParseError } from './errors.js';
import { rememberedPartialMessage } from './internal/partial-messages.js';

/**
 * The message as far as it had arrived when a stream failed, for any failure after `message_start`: a mid-stream
 * `event: error` (the SDK's `APIError`, left as the SDK made it), a lost connection or an early end
 * (`IncompleteStreamError`), a tool input that is not JSON (`ToolInputParseError`), a timeout or any other error seen
 * by `claudeStream`, `finalMessage()`, `accumulateMessage()` or `runTools`.
 *
 * The message is safe to send back as an assistant turn: a thinking block whose signature never came and empty text
 * blocks are left out. Output tokens arrive only in the last `message_delta`, so its `usage.output_tokens` may be
 * lower than what was billed.
 *
 * @param error What the stream errored with.
 * @returns The partial message, or `undefined` when the failure came before `message_start` (or is not a stream's).
 *
 * @example
 * ```ts
 * import { claudeStream, partialMessageOf } from 'claude-rx';
 *
 * claudeStream(client, params).subscribe({
 *   error: (error) => {
 *     const partial = partialMessageOf(error); // e.g. after a mid-stream overloaded_error
 *     if (partial) saveDraft(partial.content);
 *   },
 * });
 * ```
 */
export function partialMessageOf(error: unknown): Anthropic.Messages.Message | undefined {
  if (error instanceof IncompleteStreamError || error instanceof ToolInputParseError) {
    return error.partial ?? rememberedPartialMessage(error);
  }
  return rememberedPartialMessage(error);
}
