import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

interface Closable {
  readonly destroyed?: boolean;
  readonly socket?: { readonly destroyed?: boolean } | null;
  once(event: 'close', listener: () => void): unknown;
}

// One signal per request, however many parameters or guards ask for it.
const signals = new WeakMap<object, AbortSignal>();

function isClosable(value: unknown): value is Closable {
  return typeof value === 'object' && value !== null && typeof (value as Closable).once === 'function';
}

/**
 * The `AbortSignal` of the current HTTP request's connection: aborted when its response closes, that is when the
 * client disconnects (or the response has ended). Works with Express and Fastify, on Nest 11 and 12, in any route.
 *
 * On Nest 12, `@SseSignal()` from `@nestjs/common` does the same for `@Sse()` routes. Pass either to
 * `ClaudeStreamService.sse()` so that a client that leaves while the handler is still waiting for Claude's first
 * event aborts the upstream request at once.
 *
 * - The signal aborts once, on the raw response's `close`; if the connection is already gone when the handler
 *   runs, it is aborted already.
 *
 * @example
 * ```ts
 * import { Controller, Query, Sse, type MessageEvent } from '@nestjs/common';
 * import type { Observable } from 'rxjs';
 * import { ClaudeStreamService, ClientAbortSignal } from 'claude-rx/nest';
 *
 * @Controller('chat')
 * class ChatController {
 *   constructor(private readonly claude: ClaudeStreamService) {}
 *
 *   @Sse('stream')
 *   stream(@Query('q') q: string, @ClientAbortSignal() signal: AbortSignal): Promise<Observable<MessageEvent>> {
 *     return this.claude.sse({ messages: [{ role: 'user', content: q }] }, { signal });
 *   }
 * }
 * ```
 */
export const ClientAbortSignal = createParamDecorator((_data: unknown, context: ExecutionContext): AbortSignal => {
  const response: unknown = context.switchToHttp().getResponse();
  // Fastify's reply wraps Node's response as `raw`; Express's response is Node's.
  const raw: unknown = typeof response === 'object' && response !== null && 'raw' in response ? response.raw : response;
  if (!isClosable(raw)) throw new TypeError('@ClientAbortSignal() is only for HTTP routes');
  const known = signals.get(raw);
  if (known) return known;
  const controller = new AbortController();
  signals.set(raw, controller.signal);
  if (raw.destroyed || raw.socket?.destroyed) controller.abort();
  else raw.once('close', () => controller.abort());
  return controller.signal;
});
