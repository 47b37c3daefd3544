import type Anthropic from '@anthropic-ai/sdk';
import { ClaudeRxError } from './claude-rx-error.js';

/**
 * The stream ended before `message_stop`: the server closed the connection cleanly too early, or the connection
 * was lost mid-body. `partial` holds what had arrived, safe to send back as an assistant turn (a thinking block
 * whose signature never came is left out); `cause` the original error, if there was one.
 *
 * @example
 * ```ts
 * import { IncompleteStreamError } from 'claude-rx';
 * stream$.subscribe({
 *   error: (err) => {
 *     if (err instanceof IncompleteStreamError) save(err.partial);
 *   },
 * });
 * ```
 */
export class IncompleteStreamError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_INCOMPLETE_STREAM';
  override readonly name = 'IncompleteStreamError';
  readonly code = 'CLAUDE_RX_INCOMPLETE_STREAM';

  constructor(
    /** The message as far as it arrived, or `undefined` when not even `message_start` came. */
    readonly partial: Anthropic.Messages.Message | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      partial
        ? `The stream of message ${partial.id} ended before message_stop`
        : 'The stream ended before message_start',
      options,
    );
  }
}

/** Which bound of `timeoutBetweenChunks` fired. */
export type ChunkTimeoutBound = 'first' | 'each' | 'total';

/** The facts of a `ChunkTimeoutError`. */
export interface ChunkTimeoutInfo {
  /** `first`: no event before the limit; `each`: too long between two events; `total`: the whole stream. */
  readonly bound: ChunkTimeoutBound;
  /** The limit that was exceeded, in milliseconds. */
  readonly limitMs: number;
  /** How many events had arrived when it fired. */
  readonly eventsSeen: number;
}

/**
 * `timeoutBetweenChunks` gave up waiting. The upstream request was aborted.
 *
 * @example
 * ```ts
 * import { ChunkTimeoutError } from 'claude-rx';
 * if (err instanceof ChunkTimeoutError && err.info.bound === 'first') console.warn('no answer in time');
 * ```
 */
export class ChunkTimeoutError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_CHUNK_TIMEOUT';
  override readonly name = 'ChunkTimeoutError';
  readonly code = 'CLAUDE_RX_CHUNK_TIMEOUT';

  constructor(readonly info: ChunkTimeoutInfo) {
    super(
      info.bound === 'total'
        ? `The stream took longer than ${info.limitMs} ms in total (${info.eventsSeen} events seen)`
        : info.bound === 'first'
          ? `No stream event arrived within ${info.limitMs} ms`
          : `No stream event arrived within ${info.limitMs} ms of the previous one (${info.eventsSeen} events seen)`,
    );
  }
}

/**
 * A tool-use block's input was not valid JSON when the block ended.
 *
 * @example
 * ```ts
 * import { ToolInputParseError } from 'claude-rx';
 * if (err instanceof ToolInputParseError) console.error(`tool ${err.toolName} (block ${err.index}) sent bad JSON`);
 * ```
 */
export class ToolInputParseError extends ClaudeRxError {
  static override readonly errorCode = 'CLAUDE_RX_TOOL_INPUT_PARSE';
  override readonly name = 'ToolInputParseError';
  readonly code = 'CLAUDE_RX_TOOL_INPUT_PARSE';

  constructor(
    /** The content block index. */
    readonly index: number,
    /** The tool-use id (`toolu_...`). */
    readonly toolUseId: string,
    /** The tool's name. */
    readonly toolName: string,
    /** The JSON text as received. */
    readonly json: string,
    options?: { cause?: unknown; partial?: Anthropic.Messages.Message },
  ) {
    super(`The input of tool ${toolName} (${toolUseId}, block ${index}) is not valid JSON`, options);
    this.partial = options?.partial;
  }

  /**
   * The message as far as it arrived (the bad tool call's `input` is its best-effort parse, never to be run), when
   * the error comes from `finalMessage()`, `accumulateMessage()` or `runTools`; `undefined` from `toolInputs()`.
   */
  readonly partial: Anthropic.Messages.Message | undefined;
}
