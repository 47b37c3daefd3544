import type Anthropic from '@anthropic-ai/sdk';

/**
 * Folds a `message_delta`'s usage into a message's usage, in place, as the SDK's `MessageStream` does.
 *
 * `output_tokens` is the running count. The other counters in a `message_delta` are whole-message totals sent
 * only when they apply: overwrite when present, never add.
 */
export function mergeUsage(usage: Anthropic.Messages.Usage, delta: Anthropic.Messages.MessageDeltaUsage): void {
  usage.output_tokens = delta.output_tokens;
  if (delta.input_tokens != null) usage.input_tokens = delta.input_tokens;
  if (delta.cache_creation_input_tokens != null) usage.cache_creation_input_tokens = delta.cache_creation_input_tokens;
  if (delta.cache_read_input_tokens != null) usage.cache_read_input_tokens = delta.cache_read_input_tokens;
  if (delta.server_tool_use != null) usage.server_tool_use = delta.server_tool_use;
  if (delta.output_tokens_details != null) usage.output_tokens_details = delta.output_tokens_details;
  // The beta API's counters, as its BetaMessageStream merges them.
  const beta = delta as Partial<Pick<Anthropic.Beta.Messages.BetaMessageDeltaUsage, 'iterations' | 'fallback_credit'>>;
  const betaUsage = usage as Partial<Pick<Anthropic.Beta.Messages.BetaUsage, 'iterations' | 'fallback_credit'>>;
  if (beta.iterations != null) betaUsage.iterations = beta.iterations;
  if (beta.fallback_credit != null) betaUsage.fallback_credit = beta.fallback_credit;
}
