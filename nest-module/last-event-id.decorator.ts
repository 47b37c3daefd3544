import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/**
 * The request's `Last-Event-ID` header, or `undefined` when it has none (or an empty one): what an `EventSource`
 * sends when it reconnects by itself, after a dropped connection or after the server ended the stream.
 *
 * Pass it to `ClaudeStreamService.sse()` or `sseRunTools()` as `lastEventId`: a request that carries it never starts a
 * new generation (a paid request upstream); without resumable streams it is answered with 204 No Content, which
 * stops the `EventSource`.
 *
 * @example
 * ```ts
 * import { Controller, Query, Sse, SseSignal, type MessageEvent } from '@nestjs/common';
 * import type { Observable } from 'rxjs';
 * import { ClaudeStreamService, LastEventId } from 'claude-rx/nest';
 *
 * @Controller('chat')
 * class ChatController {
 *   constructor(private readonly claude: ClaudeStreamService) {}
 *
 *   @Sse('stream')
 *   stream(
 *     @Query('q') q: string,
 *     @LastEventId() lastEventId: string | undefined,
 *     @SseSignal() signal: AbortSignal,
 *   ): Promise<Observable<MessageEvent>> {
 *     return this.claude.sse({ messages: [{ role: 'user', content: q }] }, { lastEventId, signal });
 *   }
 * }
 * ```
 */
export const LastEventId = createParamDecorator((_data: unknown, context: ExecutionContext): string | undefined => {
  const request: unknown = context.switchToHttp().getRequest();
  // Express and Fastify both expose Node's lower-cased headers as `headers`.
  const headers: unknown =
    typeof request === 'object' && request !== null ? Reflect.get(request, 'headers') : undefined;
  const value: unknown =
    typeof headers === 'object' && headers !== null ? Reflect.get(headers, 'last-event-id') : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
});
