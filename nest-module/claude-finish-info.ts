import type Anthropic from '@anthropic-ai/sdk';

/**
 * How a call or run of `ClaudeStreamService` ended, for `forRoot({ onFinish })`:
 *
 * - `complete`: the answer is whole;
 * - `error`: it failed (`error` says with what);
 * - `client_gone`: its subscriber left first (a closed tab in plain mode, an unsubscribe);
 * - `stopped`: `stop()` ended it (resume mode);
 * - `grace_aborted`: nobody was reading it for `graceMs` (resume mode);
 * - `shutdown`: the application shut down under it.
 *
 * @example
 * ```ts
 * import type { ClaudeFinishOutcome } from 'claude-rx/nest';
 * const unread: ClaudeFinishOutcome[] = ['client_gone', 'grace_aborted'];
 * ```
 */
export type ClaudeFinishOutcome = 'complete' | 'error' | 'client_gone' | 'stopped' | 'grace_aborted' | 'shutdown';

/**
 * What `forRoot({ onFinish })` is told, once per call (`stream()`, `text()`, `finalMessage()`, `sse()`) or run
 * (`runTools()`, `sseRunTools()`), however it ended.
 *
 * @example
 * ```ts
 * import { ClaudeStreamModule, type ClaudeFinishInfo } from 'claude-rx/nest';
 *
 * const bill = async ({ owner, model, usage, lowerBound }: ClaudeFinishInfo) =>
 *   ledger.charge(owner, model, usage?.output_tokens ?? 0, { estimate: lowerBound });
 * ClaudeStreamModule.forRoot({ client, onFinish: bill });
 * ```
 */
export interface ClaudeFinishInfo {
  /** `stream` for `stream()`, `text()`, `finalMessage()` and `sse()`; `runTools` for `runTools()` and `sseRunTools()`. */
  readonly call: 'stream' | 'runTools';
  readonly outcome: ClaudeFinishOutcome;
  /** What it failed with, for `outcome: 'error'` (kept on the server: never send it to a client as it is). */
  readonly error?: unknown;
  /**
   * The answer: whole when `complete`, else as far as it arrived; for a run, the last turn's message. `undefined` when
   * no message had started.
   */
  readonly message: Anthropic.Messages.Message | undefined;
  /** The tokens used, summed over every request of the call (retries, every turn); `undefined` when none started. */
  readonly usage: Anthropic.Messages.Usage | undefined;
  /** A message was cut before its final usage arrived: `usage` is a lower bound of what was billed. */
  readonly lowerBound: boolean;
  /** The model asked for. */
  readonly model: string;
  /** The owner given to `sse()` or `sseRunTools()` (e.g. a user id). */
  readonly owner: string | undefined;
}
