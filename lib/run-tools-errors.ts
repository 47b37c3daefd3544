import type Anthropic from '@anthropic-ai/sdk';
import { ClaudeRxError } from './claude-rx-error.js';

/**
 * `runTools` stopped a conversation that still called tools after `maxTurns` requests. The tools of the last turn
 * were not run.
 *
 * @example
 * ```ts
 * import { MaxTurnsExceededError } from 'claude-rx';
 *
 * runTools(client, params, { tools, maxTurns: 5 }).subscribe({
 *   error: (err) => {
 *     if (err instanceof MaxTurnsExceededError) console.warn(`gave up after ${err.turns} turns`, err.messages.at(-1));
 *   },
 * });
 * ```
 */
export class MaxTurnsExceededError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_MAX_TURNS_EXCEEDED';
  override readonly name = 'MaxTurnsExceededError';
  readonly code = 'CLAUDE_RX_MAX_TURNS_EXCEEDED';

  constructor(
    /** How many turns (requests) were made: the `maxTurns` limit. */
    readonly turns: number,
    /**
     * The conversation so far: the request's messages, then every turn, ending with the assistant message whose
     * tool calls were not run (answer them with `tool_result` blocks to carry on).
     */
    readonly messages: readonly Anthropic.Messages.MessageParam[],
  ) {
    super(`Claude still called tools after ${turns} turn${turns === 1 ? '' : 's'} (maxTurns)`);
  }
}
