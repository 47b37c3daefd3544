import { APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { ClaudeRxError } from '../claude-rx-error.js';
import { ChunkTimeoutError, IncompleteStreamError } from '../errors.js';
import { isOverload, isRateLimitOrOverload, retryAfterMs } from '../rate-limit.js';
import { StreamLostError } from '../resumable/stream-errors.js';
import { CallsHeldError } from '../shared-backoff/calls-held-error.js';

/**
 * The kinds of failure a client is told about, in the SSE `error` event and in the body of an HTTP error.
 *
 * @example
 * ```ts
 * import type { ClaudeFailureType } from 'claude-rx';
 * const worthRetrying: readonly ClaudeFailureType[] = ['rate_limit_error', 'overloaded_error', 'stream_lost'];
 * ```
 */
export type ClaudeFailureType =
  | 'rate_limit_error'
  | 'overloaded_error'
  | 'timeout_error'
  | 'incomplete_stream_error'
  | 'server_shutdown'
  | 'stream_lost'
  | 'upstream_error';

/**
 * What may be said about a failure to the client: nothing from the upstream's message, headers or stack.
 *
 * @example
 * ```ts
 * import { describeFailure } from 'claude-rx';
 * const { status, type, message } = describeFailure(error); // e.g. 429, 'rate_limit_error', a fixed sentence
 * ```
 */
export interface FailureDescription {
  readonly type: ClaudeFailureType;
  /** A fixed message per type, never the upstream's own (which could name the account or the key's state). */
  readonly message: string;
  /** Whether the same request may succeed if sent again later. */
  readonly retryable: boolean;
  /** The HTTP status to answer with when nothing has been streamed yet. */
  readonly status: number;
  /** How long the API asked to wait, when it said. */
  readonly retryAfterMs?: number;
}

const MESSAGES: Record<ClaudeFailureType, string> = {
  rate_limit_error: 'Claude is receiving too many requests; try again later.',
  overloaded_error: 'Claude is overloaded; try again later.',
  timeout_error: 'Claude did not answer in time.',
  incomplete_stream_error: 'The answer from Claude was cut off.',
  server_shutdown: 'The server is shutting down; try again later.',
  stream_lost: 'The server producing the answer stopped; try again.',
  upstream_error: 'The request to Claude failed.',
};

function described(
  type: ClaudeFailureType,
  status: number,
  retryable: boolean,
  retryAfterMs?: number,
): FailureDescription {
  return { type, message: MESSAGES[type], retryable, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

/**
 * Classifies a failure of a Claude stream (by class and `error.type`, never by message text) into what a client may
 * be told. Anything unrecognised is an `upstream_error` (502): the only thing in these pipelines that fails is the
 * call to the API.
 *
 * @param error What the stream failed with.
 * @returns The kind, a fixed message, whether it is worth retrying, and the HTTP status to answer with.
 *
 * @example
 * ```ts
 * import { describeFailure } from 'claude-rx';
 *
 * events$.subscribe({ error: (error) => res.writeHead(describeFailure(error).status).end() });
 * ```
 */
export function describeFailure(error: unknown): FailureDescription {
  // By code: the shutdown error is the Nest module's, which this folder may not import.
  if (error instanceof ClaudeRxError && error.code === 'CLAUDE_RX_SHUTDOWN')
    return described('server_shutdown', 503, true);
  if (error instanceof StreamLostError) return described('stream_lost', 502, true);
  if (error instanceof CallsHeldError) return described('rate_limit_error', 429, true, error.retryAfterMs);
  if (error instanceof ChunkTimeoutError || error instanceof APIConnectionTimeoutError) {
    return described('timeout_error', 504, true);
  }
  if (isRateLimitOrOverload(error)) {
    const waitMs = retryAfterMs(error);
    return isOverload(error)
      ? described('overloaded_error', 503, true, waitMs)
      : described('rate_limit_error', 429, true, waitMs);
  }
  if (error instanceof IncompleteStreamError) return described('incomplete_stream_error', 502, true);
  if (error instanceof APIError) {
    // No status: a connection error, or a mid-stream `api_error` frame; both are worth another try.
    const { status } = error as APIError;
    const retryable = status === undefined || status >= 500 || status === 408 || status === 409;
    return described('upstream_error', 502, retryable);
  }
  return described('upstream_error', 502, false);
}
