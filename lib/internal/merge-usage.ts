import type Anthropic from '@anthropic-ai/sdk';

type BetaMessageDeltaUsage = Anthropic.Beta.Messages.BetaMessageDeltaUsage;

/**
 * The counters a `message_delta` sends only when they apply, each a whole-message figure; the beta API's last two
 * included, as its BetaMessageStream merges them.
 */
const OVERWRITTEN: readonly (keyof BetaMessageDeltaUsage & keyof Anthropic.Beta.Messages.BetaUsage)[] = [
  'input_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
  'server_tool_use',
  'output_tokens_details',
  'iterations',
  'fallback_credit',
];

/**
 * Folds a `message_delta`'s usage into a message's usage, in place, as the SDK's `MessageStream` does.
 *
 * `output_tokens` is the running count. The other counters in a `message_delta` are whole-message totals sent
 * only when they apply: overwrite when present, never add.
 */
export function mergeUsage(usage: Anthropic.Messages.Usage, delta: Anthropic.Messages.MessageDeltaUsage): void {
  usage.output_tokens = delta.output_tokens;
  const from = delta as unknown as Record<string, unknown>;
  const to = usage as unknown as Record<string, unknown>;
  for (const key of OVERWRITTEN) if (from[key] != null) to[key] = from[key];
}
