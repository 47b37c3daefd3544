import type Anthropic from '@anthropic-ai/sdk';

/**
 * The message so far of each failure that claude-rx saw after `message_start`, keyed by the error object itself:
 * weakly, so that an error dropped takes its message with it, and beside the error, so that the SDK's own error
 * objects are never changed (users' `instanceof` checks and `retryOn` predicates see them as the SDK made them).
 */
const partials = new WeakMap<object, Anthropic.Messages.Message>();

/**
 * Remembers `message` as the message so far of `error`; the first one given wins (the layer nearest the wire saw
 * the most). Errors that are not objects cannot be keys and are ignored.
 */
export function rememberPartialMessage(error: unknown, message: Anthropic.Messages.Message | undefined): void {
  if (message === undefined || typeof error !== 'object' || error === null || partials.has(error)) return;
  partials.set(error, message);
}

/** The message remembered for `error`, if any. */
export function rememberedPartialMessage(error: unknown): Anthropic.Messages.Message | undefined {
  return typeof error === 'object' && error !== null ? partials.get(error) : undefined;
}
