import type { BetaMessageStream } from '@anthropic-ai/sdk/lib/BetaMessageStream';
import type { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { Observable } from 'rxjs';
import { pumpEvents } from './internal/pump-events.js';
import type { ClaudeBetaStreamEvent, ClaudeStreamEvent } from './types.js';

/**
 * Turns an SDK `MessageStream` (from `client.messages.stream(...)`), or a `BetaMessageStream` (from
 * `client.beta.messages.stream(...)`, typed with the beta events), into an Observable of its events.
 *
 * A `MessageStream` is one request already under way, so this Observable is hot: subscribe once. It behaves as
 * `claudeStream` does otherwise:
 * - next: every event of the stream; complete: after `message_stop`;
 * - error: the SDK's error, or `IncompleteStreamError` (with `.partial`) when the stream ended without `message_stop`;
 * - unsubscribe: calls `stream.abort()`, which aborts the HTTP request; silent.
 *
 * @param stream The SDK's `MessageStream` or `BetaMessageStream`.
 * @returns An Observable of the stream's events.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { fromMessageStream, textOnly } from 'claude-rx';
 *
 * const client = new Anthropic();
 * const stream = client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 256, messages });
 * fromMessageStream(stream).pipe(textOnly()).subscribe((text) => process.stdout.write(text));
 * ```
 */
export function fromMessageStream(stream: BetaMessageStream): Observable<ClaudeBetaStreamEvent>;
export function fromMessageStream(stream: MessageStream): Observable<ClaudeStreamEvent>;
export function fromMessageStream(
  stream: MessageStream | BetaMessageStream,
): Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent> {
  return new Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent>((subscriber) => {
    // The stream reports its failures to us through the iterator; this keeps the SDK from also raising them
    // as unhandled rejections of its own `done()` promise.
    stream.done().catch(() => undefined);
    void pumpEvents(subscriber, () => Promise.resolve(stream));
    return () => {
      if (!stream.ended) stream.abort();
    };
  });
}
