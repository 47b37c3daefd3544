import type { HttpException } from '@nestjs/common';
import {
  StreamEndedError,
  StreamGapError,
  StreamIdError,
  StreamLimitError,
  StreamNotFoundError,
} from '../lib/index.js';
import { ClaudeStreamIdException } from './claude-stream-id.exception.js';
import { ClaudeStreamLimitException } from './claude-stream-limit.exception.js';
import { ClaudeStreamNotFoundException } from './claude-stream-not-found.exception.js';
import { ClaudeStreamNotResumableException } from './claude-stream-not-resumable.exception.js';

/**
 * The answer-table exception for a refusal of `ResumableStreams` (400 malformed, 204 ended, 404 unknown or gap, 429
 * owner at its limit), or `undefined` for any other error.
 *
 * @param error What `ResumableStreams` threw.
 * @param lastEventId The id the request carried, for the 204.
 */
export function resumeExceptionFor(error: unknown, lastEventId = ''): HttpException | undefined {
  if (error instanceof StreamIdError) return new ClaudeStreamIdException({ cause: error });
  if (error instanceof StreamEndedError) return new ClaudeStreamNotResumableException(lastEventId);
  if (error instanceof StreamNotFoundError || error instanceof StreamGapError) {
    return new ClaudeStreamNotFoundException({ cause: error });
  }
  if (error instanceof StreamLimitError) return new ClaudeStreamLimitException(error.limit, { cause: error });
  return undefined;
}
