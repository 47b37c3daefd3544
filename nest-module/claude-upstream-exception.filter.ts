import { Catch, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { ClaudeUpstreamException } from './claude-upstream.exception.js';

/**
 * Answers a `ClaudeUpstreamException` as Nest's default handler would, plus its `Retry-After` header (an
 * `HttpException` cannot carry headers). `ClaudeStreamModule` registers it as a global filter; filters you bind to
 * a controller or route still come first.
 *
 * - HTTP requests: sets the exception's headers if nothing was sent yet, then delegates to `BaseExceptionFilter`.
 * - Other contexts (WebSockets, microservices): delegates unchanged.
 *
 * @example
 * ```ts
 * import { UseFilters } from '@nestjs/common';
 * import { ClaudeUpstreamExceptionFilter } from 'claude-rx/nest';
 *
 * // Needed only where ClaudeStreamModule's global filter does not apply, e.g. before a catch-all filter of yours.
 * @UseFilters(ClaudeUpstreamExceptionFilter)
 * class ChatController {}
 * ```
 */
@Catch(ClaudeUpstreamException)
export class ClaudeUpstreamExceptionFilter extends BaseExceptionFilter {
  override catch(exception: ClaudeUpstreamException, host: ArgumentsHost): void {
    const adapter = this.httpAdapterHost?.httpAdapter;
    if (host.getType() === 'http' && adapter) {
      const response: unknown = host.switchToHttp().getResponse();
      if (!adapter.isHeadersSent(response)) {
        for (const [name, value] of Object.entries(exception.getHeaders())) adapter.setHeader(response, name, value);
      }
    }
    super.catch(exception, host);
  }
}
