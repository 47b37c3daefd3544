/**
 * The `data:` payload the Messages API sends for `ping` events: unlike every other event it is not compact JSON
 * (`{"type": "ping"}`, with a space), and the fake server reproduces that byte for byte.
 */
export const PING_DATA = '{"type": "ping"}';

/**
 * Serializes one server-sent event the way the Messages API frames it: `event: <name>\ndata: <json>\n\n`.
 *
 * `data` is written as is when it is a string (already serialized JSON, kept byte-exact) and with
 * `JSON.stringify` otherwise. The API never splits `data` over several lines, so a string containing a
 * line break is rejected rather than silently producing a frame the API could not have sent.
 *
 * @param eventName - the `event:` field, e.g. `content_block_delta`.
 * @param data - the event payload, an object to serialize or a JSON string.
 * @returns the frame, terminated by a blank line.
 * @throws TypeError if `eventName` or the serialized `data` contains a line break.
 *
 * @example
 * ```ts
 * import { sseFrame } from 'claude-rx/testing';
 *
 * sseFrame('message_stop', { type: 'message_stop' });
 * // 'event: message_stop\ndata: {"type":"message_stop"}\n\n'
 * ```
 */
export function sseFrame(eventName: string, data: unknown): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  if (/[\r\n]/.test(eventName)) throw new TypeError(`sseFrame: eventName must be a single line, got ${eventName}`);
  if (payload === undefined) throw new TypeError('sseFrame: data must be JSON-serializable');
  if (/[\r\n]/.test(payload)) throw new TypeError('sseFrame: data must serialize to a single line');
  return `event: ${eventName}\ndata: ${payload}\n\n`;
}
