/**
 * claude-rx's operators, typed for the events of `claudeSse`. They are the very operators of `claude-rx` (imported
 * from their own modules, so that a browser bundle holds no SDK and no Node code): they read a marker by its `type`
 * only, so the wire's markers (`turn_end` with its stop reason, `tool_result` without the tool's raw result) pass
 * through them as the server's do.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { OperatorFunction } from 'rxjs';
import { accumulateMessage as accumulateMessageOf } from '../operators/accumulate-message.js';
import { finalMessage as finalMessageOf } from '../operators/final-message.js';
import { textOnly as textOnlyOf } from '../operators/text-only.js';
import { thinkingOnly as thinkingOnlyOf } from '../operators/thinking-only.js';
import { tokenUsage as tokenUsageOf, type TokenUsageOptions } from '../operators/token-usage.js';
import type { ClaudeClientEvent } from './client-events.js';

/**
 * The text of each `text_delta`, as it streams.
 *
 * @example
 * ```ts
 * claudeSse('/chat', { body }).pipe(textOnly()).subscribe((text) => output.append(text));
 * ```
 */
export const textOnly = textOnlyOf as unknown as () => OperatorFunction<ClaudeClientEvent, string>;

/**
 * The text of each `thinking_delta`, as it streams.
 *
 * @example
 * ```ts
 * claudeSse('/chat', { body }).pipe(thinkingOnly()).subscribe((text) => thoughts.append(text));
 * ```
 */
export const thinkingOnly = thinkingOnlyOf as unknown as () => OperatorFunction<ClaudeClientEvent, string>;

/**
 * A frozen snapshot of the message after each event; the last is the whole message.
 *
 * @example
 * ```ts
 * claudeSse('/chat', { body }).pipe(accumulateMessage()).subscribe((message) => render(message.content));
 * ```
 */
export const accumulateMessage = accumulateMessageOf as unknown as () => OperatorFunction<
  ClaudeClientEvent,
  Anthropic.Messages.Message
>;

/**
 * The whole message, once, at the end.
 *
 * @example
 * ```ts
 * const message = await lastValueFrom(claudeSse('/chat', { body }).pipe(finalMessage()));
 * ```
 */
export const finalMessage = finalMessageOf as unknown as () => OperatorFunction<
  ClaudeClientEvent,
  Anthropic.Messages.Message
>;

/**
 * The running token usage, summed over every message of the stream.
 *
 * @example
 * ```ts
 * claudeSse('/chat', { body }).pipe(tokenUsage()).subscribe((usage) => (meter.value = usage.output_tokens));
 * ```
 */
export const tokenUsage = tokenUsageOf as unknown as (
  options?: TokenUsageOptions,
) => OperatorFunction<ClaudeClientEvent, Anthropic.Messages.Usage>;
