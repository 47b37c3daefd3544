/**
 * The stable codes of claude-rx's own errors, one per class. Compare `error.code` (or use `instanceof`) rather than
 * the message, which may change.
 *
 * @example
 * ```ts
 * import type { ClaudeRxErrorCode } from 'claude-rx';
 * const retryable: readonly ClaudeRxErrorCode[] = ['CLAUDE_RX_INCOMPLETE_STREAM', 'CLAUDE_RX_CHUNK_TIMEOUT'];
 * ```
 */
export type ClaudeRxErrorCode =
  | 'CLAUDE_RX_INCOMPLETE_STREAM'
  | 'CLAUDE_RX_CHUNK_TIMEOUT'
  | 'CLAUDE_RX_TOOL_INPUT_PARSE'
  | 'CLAUDE_RX_MAX_TURNS_EXCEEDED'
  | 'CLAUDE_RX_SHUTDOWN'
  | 'CLAUDE_RX_STREAM_ID'
  | 'CLAUDE_RX_STREAM_NOT_FOUND'
  | 'CLAUDE_RX_STREAM_ENDED'
  | 'CLAUDE_RX_STREAM_GAP'
  | 'CLAUDE_RX_STREAM_LOST'
  | 'CLAUDE_RX_STREAM_LIMIT'
  | 'CLAUDE_RX_CALLS_HELD'
  | 'CLAUDE_RX_SSE_ERROR'
  | 'CLAUDE_RX_SSE_HTTP'
  | 'CLAUDE_RX_SSE_CONNECTION';

/** Marks the errors of every copy of claude-rx in the process: `Symbol.for` is shared by the ESM and CJS builds. */
const BRAND = Symbol.for('claude-rx.error');

/**
 * The base class of claude-rx's own errors: each has a `name` and a stable `code`.
 *
 * An application may load claude-rx twice, as ESM and as CommonJS (a NestJS 11 app in CommonJS importing an ESM
 * library of yours, say): two copies of every class. `instanceof` still works across them, for this class and each
 * subclass: an error is recognised by a brand both copies share and by its `code`. The SDK's own errors
 * (`Anthropic.APIError` and its subclasses) are not claude-rx errors and are never wrapped in one.
 *
 * @example
 * ```ts
 * import { ClaudeRxError } from 'claude-rx';
 *
 * stream$.subscribe({
 *   error: (error) => {
 *     if (error instanceof ClaudeRxError) log.warn(`claude-rx: ${error.code}`);
 *     else log.error(error); // the SDK's APIError, or your own
 *   },
 * });
 * ```
 */
export abstract class ClaudeRxError extends Error {
  /**
   * The code of the errors a subclass makes, for `instanceof` across copies; `undefined` on this base class, which
   * every claude-rx error matches.
   */
  static readonly errorCode: ClaudeRxErrorCode | undefined = undefined;

  /** What kind of failure this is, stable across versions and copies of the package. */
  abstract readonly code: ClaudeRxErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that recognises an error made by another copy of claude-rx (ESM or CJS) by its brand and code. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(BRAND in value)) {
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
    const code = (this as { readonly errorCode?: ClaudeRxErrorCode }).errorCode;
    return code === undefined || (value as { readonly code?: unknown }).code === code;
  }
}
