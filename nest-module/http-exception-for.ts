import { describeFailure } from '../lib/index.js';
import { ClaudeUpstreamException } from './claude-upstream.exception.js';

/**
 * Maps the failure of a Claude call to the `HttpException` to answer with, for a failure before anything was sent:
 * 429 (with `Retry-After`) for a rate limit, 503 for an overload (529) or a shutdown, 504 for a timeout, 502 for
 * anything else from upstream, an API key refused included (the body never says why). Classifies by class and
 * `error.type`, never by message text.
 *
 * @param error What the Claude stream failed with.
 * @returns A `ClaudeUpstreamException`, with `error` as its `cause`.
 *
 * @example
 * ```ts
 * import { firstValueFrom } from 'rxjs';
 * import { httpExceptionFor } from 'claude-rx/nest';
 *
 * async ask(q: string) {
 *   try {
 *     return await firstValueFrom(this.claude.finalMessage({ messages: [{ role: 'user', content: q }] }));
 *   } catch (error) {
 *     throw httpExceptionFor(error);
 *   }
 * }
 * ```
 */
export function httpExceptionFor(error: unknown): ClaudeUpstreamException {
  return new ClaudeUpstreamException(describeFailure(error), { cause: error });
}
