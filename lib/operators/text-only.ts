import type Anthropic from '@anthropic-ai/sdk';
import { filter, map, pipe, type OperatorFunction } from 'rxjs';
import type { ClaudeRxEvent } from '../types.js';

type TextDeltaEvent = Anthropic.Messages.RawContentBlockDeltaEvent & { delta: Anthropic.Messages.TextDelta };

function isTextDelta(event: ClaudeRxEvent): event is TextDeltaEvent {
  return event.type === 'content_block_delta' && event.delta.type === 'text_delta';
}

/**
 * Keeps only the answer's text: the `text` of each `text_delta`, in order.
 *
 * - next: one string per `text_delta` (thinking, tool input and every other event are dropped);
 * - error, complete: the source's; unsubscribe: unsubscribes the source (which aborts the request).
 *
 * @returns An operator from stream events to text fragments.
 *
 * @example
 * ```ts
 * import { claudeStream, textOnly } from 'claude-rx';
 *
 * claudeStream(client, { model: 'claude-sonnet-5-5', max_tokens: 512, messages })
 *   .pipe(textOnly())
 *   .subscribe((text) => process.stdout.write(text));
 * ```
 */
export function textOnly(): OperatorFunction<ClaudeRxEvent, string> {
  return pipe(
    filter(isTextDelta),
    map((event) => event.delta.text),
  );
}
