import type { SseComment, SseMessage } from './sse-frame.js';

/**
 * The bytes of one SSE event (or comment) on the wire: `id:`, `event:` and `data:` lines, then a blank line. `data`
 * is claude-rx's one line of JSON; should it hold a newline anyway, each line gets its own `data:` field.
 *
 * @param message An `SseMessage`, or an `SseComment` (a heartbeat).
 * @returns The text to write to the response.
 *
 * @example
 * ```ts
 * import { encodeSse } from 'claude-rx';
 * response.write(encodeSse({ id: '1', type: 'done', data: '{}' })); // "id: 1\nevent: done\ndata: {}\n\n"
 * ```
 */
export function encodeSse(message: SseMessage | SseComment): string {
  if ('comment' in message) return `: ${message.comment.replace(/[\r\n]+/g, ' ')}\n\n`;
  const data = message.data.split(/\r\n|\r|\n/).join('\ndata: ');
  return `id: ${message.id}\nevent: ${message.type}\ndata: ${data}\n\n`;
}
