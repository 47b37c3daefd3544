import type Anthropic from '@anthropic-ai/sdk';
import { filter, map, pipe, type OperatorFunction } from 'rxjs';
import type { ClaudeRxEvent } from '../types.js';

type ThinkingDeltaEvent = Anthropic.Messages.RawContentBlockDeltaEvent & { delta: Anthropic.Messages.ThinkingDelta };

function isThinkingDelta(event: ClaudeRxEvent): event is ThinkingDeltaEvent {
  return event.type === 'content_block_delta' && event.delta.type === 'thinking_delta';
}

/**
 * Keeps only Claude's extended thinking: the `thinking` of each `thinking_delta`, in order.
 *
 * - next: one string per `thinking_delta`; everything else is dropped (signatures included);
 * - error, complete: the source's; unsubscribe: unsubscribes the source (which aborts the request).
 *
 * @returns An operator from stream events to thinking fragments.
 *
 * @example
 * ```ts
 * import { claudeStream, thinkingOnly } from 'claude-rx';
 *
 * claudeStream(client, { model, max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages })
 *   .pipe(thinkingOnly())
 *   .subscribe((thought) => process.stderr.write(thought));
 * ```
 */
export function thinkingOnly(): OperatorFunction<ClaudeRxEvent, string> {
  return pipe(
    filter(isThinkingDelta),
    map((event) => event.delta.thinking),
  );
}
