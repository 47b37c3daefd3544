import { APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import {
  ChunkTimeoutError,
  IncompleteStreamError,
  isOverload,
  isRateLimitOrOverload,
  retryAfterMs,
} from '../lib/index.js';
import { ClaudeStreamShutdownError } from './claude-stream-shutdown.error.js';

/** The kinds of failure a client is told about, in the SSE `error` event and in the body of an HTTP error. */
export type ClaudeFailureType =
  | 'rate_limit_error'
  | 'overloaded_error'
  | 'timeout_error'
  | 'incomplete_stream_error'
  | 'server_shutdown'
  | 'upstream_error';

/** What may be said about a failure to the client: nothing from the upstream's message, headers or stack. */
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
 */
export function describeFailure(error: unknown): FailureDescription {
  if (error instanceof ClaudeStreamShutdownError) return described('server_shutdown', 503, true);
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
