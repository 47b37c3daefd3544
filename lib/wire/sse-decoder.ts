/**
 * An SSE message as the SDK's decoder gives it: its `event` field (`null` when it had none), and its `data` lines
 * joined with `\n`.
 */
export interface SseWireMessage {
  readonly event: string | null;
  readonly data: string;
  /** The message's lines as they came (its fields and comments), for a log that shows the chunk. */
  readonly raw: readonly string[];
}

/**
 * Splits decoded text into SSE messages by the very rules of the SDK's `_iterSSEMessages` (Anthropic's wire), so that
 * claude-rx reads a body exactly as the SDK would: lines end with `\n`, `\r\n` or `\r`; a BOM at a line's start is
 * dropped; only the `event` and `data` fields count (one leading space of the value dropped); a blank line ends a
 * message that has an event or data; a message without its blank line at the end of the body is dropped.
 *
 * Push-based: `feed` hands every complete message of a chunk to `onMessage` synchronously, where the SDK awaits an
 * async generator per line and per message. It keeps what is not a whole line yet.
 *
 * @example
 * ```ts
 * const decoder = new SseDecoder((message) => console.log(message.event, message.data));
 * decoder.feed('event: ping\ndata: {}\n\n');
 * ```
 */
export class SseDecoder {
  /** Text not yet split into lines (the end of a line not seen yet). */
  private pending = '';
  /** The previous chunk ended with `\r`: the next may start with its `\n`. */
  private endsWithCR = false;
  private event: string | null = null;
  private data: string[] = [];
  private raw: string[] = [];

  constructor(private readonly onMessage: (message: SseWireMessage) => void) {}

  /** Takes a chunk of decoded text; hands out the messages it completes. */
  feed(chunk: string): void {
    if (chunk === '') return;
    // Searching the pending line again after each `+=` would copy it: wait for a chunk with a line ending.
    if (!this.endsWithCR && chunk.indexOf('\n') === -1 && chunk.indexOf('\r') === -1) {
      this.pending += chunk;
      return;
    }
    const text = this.pending === '' ? chunk : this.pending + chunk;
    let start = 0;
    if (text.indexOf('\r') === -1) {
      let end: number;
      while ((end = text.indexOf('\n', start)) !== -1) {
        this.takeLine(text.slice(start, end));
        start = end + 1;
      }
    } else {
      for (let i = 0; i < text.length; i++) {
        const char = text.charCodeAt(i);
        if (char !== 0x0a && char !== 0x0d) continue;
        // A `\r` at the very end may be the first half of `\r\n`: wait for the next chunk.
        if (char === 0x0d && i + 1 === text.length) break;
        this.takeLine(text.slice(start, i));
        if (char === 0x0d && text.charCodeAt(i + 1) === 0x0a) i++;
        start = i + 1;
      }
    }
    this.pending = start === 0 ? text : text.slice(start);
    this.endsWithCR = this.pending.endsWith('\r');
  }

  /** The body ended: what is left is split as lines; a message without its blank line is dropped. */
  end(rest = ''): void {
    const text = this.pending + rest;
    this.pending = '';
    if (text === '') return;
    for (const line of text.replace(/\r$/, '').split(/\r\n|[\n\r]/)) this.takeLine(line);
  }

  private takeLine(raw: string): void {
    const line = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    if (line === '') {
      // A blank line ends a message, if there is one (an empty `event:` alone is none, and stays, as in the SDK).
      if (!this.event && this.data.length === 0) return;
      const message: SseWireMessage = {
        event: this.event,
        data: this.data.length === 1 ? this.data[0]! : this.data.join('\n'),
        raw: this.raw,
      };
      this.event = null;
      this.data = [];
      this.raw = [];
      this.onMessage(message);
      return;
    }
    this.raw.push(line);
    const colon = line.indexOf(':');
    if (colon === 0) return; // a comment
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== 'event' && field !== 'data') return;
    const value = colon === -1 ? '' : line.slice(line.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1);
    if (field === 'event') this.event = value;
    else this.data.push(value);
  }
}
