import { HttpException } from '@nestjs/common';
import type { ClaudeFailureType, FailureDescription } from '../lib/index.js';

const STATUS_TEXTS: Readonly<Record<number, string>> = {
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * A Claude call failed before anything was streamed: thrown (as a rejection) by `ClaudeStreamService.sse()`, so
 * that Nest answers with a real HTTP status. 429 for a rate limit, 503 for an overloaded API (529) or a shutdown,
 * 504 for no answer in time, 502 for any other upstream failure (an API key refused included).
 *
 * The body is `{ statusCode, error, message, type, retryable }` with a fixed message per `type`: nothing of the
 * upstream's message, headers or stack. The upstream error is kept as `cause`, for logs. `getHeaders()` holds the
 * `Retry-After` to send, which `ClaudeUpstreamExceptionFilter` (registered by `ClaudeStreamModule`) sets; an
 * exception filter of your own can do the same.
 *
 * @example
 * ```ts
 * import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
 * import type { Response } from 'express';
 * import { ClaudeUpstreamException } from 'claude-rx/nest';
 *
 * @Catch(ClaudeUpstreamException)
 * class MyFilter implements ExceptionFilter {
 *   catch(exception: ClaudeUpstreamException, host: ArgumentsHost) {
 *     const response = host.switchToHttp().getResponse<Response>();
 *     response.set(exception.getHeaders()).status(exception.getStatus()).json({ problem: exception.type });
 *   }
 * }
 * ```
 */
export class ClaudeUpstreamException extends HttpException {
  /** The kind of failure, as in the SSE `error` event. */
  readonly type: ClaudeFailureType;
  /** Whether sending the same request again later may succeed. */
  readonly retryable: boolean;
  /** The wait the API asked for, rounded up to whole seconds, when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(failure: FailureDescription, options?: { cause?: unknown }) {
    super(
      {
        statusCode: failure.status,
        error: STATUS_TEXTS[failure.status] ?? 'Error',
        message: failure.message,
        type: failure.type,
        retryable: failure.retryable,
      },
      failure.status,
      { cause: options?.cause },
    );
    this.type = failure.type;
    this.retryable = failure.retryable;
    this.retryAfterSeconds = failure.retryAfterMs === undefined ? undefined : Math.ceil(failure.retryAfterMs / 1000);
  }

  /** The response headers that go with this status: `Retry-After` (seconds) when the API said how long to wait. */
  getHeaders(): Record<string, string> {
    return this.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(this.retryAfterSeconds) };
  }
}
