import { ClaudeRxError } from '../claude-rx-error.js';

/**
 * Why a resume, a read or a stop of a resumable stream was refused, with the HTTP status that says it to a client.
 * Every subclass has an `httpStatus`, so that a handler of your own answers them all with one line.
 *
 * @example
 * ```ts
 * import { ResumableStreamError } from 'claude-rx';
 *
 * try {
 *   events$ = await streams.resume(lastEventId, { owner });
 * } catch (error) {
 *   if (error instanceof ResumableStreamError) return res.writeHead(error.httpStatus).end();
 *   throw error;
 * }
 * ```
 */
export abstract class ResumableStreamError extends ClaudeRxError {
  /** The status to answer with: 400, 204, 404, 429, or 502 for a stream whose producer died. */
  abstract readonly httpStatus: number;
}

/**
 * An id that is neither a stream id nor an event id of claude-rx (`<stream id>.<position>`): answered with 400. The
 * id is not repeated in the message (it came from a client).
 *
 * @example
 * ```ts
 * import { StreamIdError } from 'claude-rx';
 * if (error instanceof StreamIdError) return res.writeHead(400).end();
 * ```
 */
export class StreamIdError extends ResumableStreamError {
  static override readonly errorCode = 'CLAUDE_RX_STREAM_ID';
  override readonly name = 'StreamIdError';
  readonly code = 'CLAUDE_RX_STREAM_ID';
  readonly httpStatus = 400;

  constructor() {
    super('Not the id of a claude-rx stream or of one of its events');
  }
}

/**
 * No such stream for this owner: it never existed, it expired, or it belongs to another owner (who is not told
 * apart, so that ids cannot be probed). Answered with 404.
 *
 * @example
 * ```ts
 * import { StreamNotFoundError } from 'claude-rx';
 * if (error instanceof StreamNotFoundError) return res.writeHead(404).end();
 * ```
 */
export class StreamNotFoundError extends ResumableStreamError {
  static override readonly errorCode = 'CLAUDE_RX_STREAM_NOT_FOUND';
  override readonly name = 'StreamNotFoundError';
  readonly code = 'CLAUDE_RX_STREAM_NOT_FOUND';
  readonly httpStatus = 404;

  constructor() {
    super('No such stream: unknown, expired, or not this owner’s');
  }
}

/**
 * The id is that of the stream's final event (`done`, `error`, `stopped`): the reader has everything, there is
 * nothing to resume. Answered with 204 No Content, which tells an `EventSource` to stop reconnecting.
 *
 * @example
 * ```ts
 * import { StreamEndedError } from 'claude-rx';
 * if (error instanceof StreamEndedError) return res.writeHead(204).end();
 * ```
 */
export class StreamEndedError extends ResumableStreamError {
  static override readonly errorCode = 'CLAUDE_RX_STREAM_ENDED';
  override readonly name = 'StreamEndedError';
  readonly code = 'CLAUDE_RX_STREAM_ENDED';
  readonly httpStatus = 204;

  constructor() {
    super('The stream has ended and the reader has its final event');
  }
}

/**
 * The events after the position asked for were dropped (the stream stores at most `maxEvents`): resuming would leave
 * a gap, so it is refused. Answered with 404, as for an expired stream.
 *
 * @example
 * ```ts
 * import { StreamGapError } from 'claude-rx';
 * if (error instanceof StreamGapError) console.warn(`events from ${error.position + 1} to ${error.firstPosition - 1} are gone`);
 * ```
 */
export class StreamGapError extends ResumableStreamError {
  static override readonly errorCode = 'CLAUDE_RX_STREAM_GAP';
  override readonly name = 'StreamGapError';
  readonly code = 'CLAUDE_RX_STREAM_GAP';
  readonly httpStatus = 404;

  constructor(
    /** The position the reader had. */
    readonly position: number,
    /** The oldest position still kept. */
    readonly firstPosition: number,
  ) {
    super(`The stream no longer has the events after position ${position}: it keeps them from ${firstPosition}`);
  }
}

/**
 * The stream's producer stopped renewing its lease before the end (its process died, or lost the store): the stream
 * will never end by itself. Readers fail with it, after every event that was stored; over SSE it is an `error` event.
 *
 * @example
 * ```ts
 * import { StreamLostError } from 'claude-rx';
 * if (error instanceof StreamLostError) showRetryButton();
 * ```
 */
export class StreamLostError extends ResumableStreamError {
  static override readonly errorCode = 'CLAUDE_RX_STREAM_LOST';
  override readonly name = 'StreamLostError';
  readonly code = 'CLAUDE_RX_STREAM_LOST';
  readonly httpStatus = 502;

  constructor() {
    super('The producer of the stream stopped before its end');
  }
}

/**
 * The owner already has as many live streams as allowed (`maxStreamsPerOwner`): no new one is started, nothing is
 * sent upstream. Answered with 429.
 *
 * @example
 * ```ts
 * import { StreamLimitError } from 'claude-rx';
 * if (error instanceof StreamLimitError) return res.writeHead(429).end();
 * ```
 */
export class StreamLimitError extends ResumableStreamError {
  static override readonly errorCode = 'CLAUDE_RX_STREAM_LIMIT';
  override readonly name = 'StreamLimitError';
  readonly code = 'CLAUDE_RX_STREAM_LIMIT';
  readonly httpStatus = 429;

  constructor(
    /** The limit that was reached. */
    readonly limit: number,
  ) {
    super(`The owner already has ${limit} live streams, the most allowed`);
  }
}
