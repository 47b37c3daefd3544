import type Anthropic from '@anthropic-ai/sdk';
import { Observable } from 'rxjs';
import { onAbort } from './internal/abort-listeners.js';
import { pumpEvents } from './internal/pump-events.js';
import type { ClaudeRequestOptions, ClaudeStreamEvent, ClaudeStreamParams } from './types.js';

/**
 * Streams one Messages API call as a cold Observable of its events.
 *
 * Every subscription sends its own request (`client.messages.create({ ...params, stream: true })`), so a retry
 * operator makes a fresh call. Nothing is sent before `subscribe`.
 *
 * - next: every event of the stream in order, `message_start` to `message_stop`, as the SDK types them.
 * - complete: after `message_stop`.
 * - error: the SDK's own error object for HTTP errors and mid-stream `event: error` frames
 *   (`instanceof Anthropic.RateLimitError` keeps working); `IncompleteStreamError` with `.partial` when the stream
 *   ended without `message_stop`, cleanly or by a lost connection (the original error as `.cause`), or when the
 *   caller's `options.signal` aborted it mid-stream. Before `message_start`, a caller's abort is the SDK's
 *   `APIUserAbortError`.
 * - unsubscribe: aborts the HTTP request at once, before or after the response headers; silent.
 *
 * `params` and `options` are copied, never mutated; a caller's `options.signal` is linked in and its listener
 * removed on teardown.
 *
 * @param client An Anthropic SDK client.
 * @param params The request body, without `stream`.
 * @param options SDK request options (`signal`, `timeout`, `headers`, `maxRetries`...).
 * @returns A cold Observable of the stream's events.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { claudeStream, textOnly } from 'claude-rx';
 *
 * const client = new Anthropic();
 * claudeStream(client, {
 *   model: 'claude-sonnet-5-5',
 *   max_tokens: 1024,
 *   messages: [{ role: 'user', content: 'Tell me a story' }],
 * })
 *   .pipe(textOnly())
 *   .subscribe((text) => process.stdout.write(text));
 * ```
 */
export function claudeStream(
  client: Anthropic,
  params: ClaudeStreamParams,
  options?: ClaudeRequestOptions,
): Observable<ClaudeStreamEvent> {
  return new Observable<ClaudeStreamEvent>((subscriber) => {
    const controller = new AbortController();
    const callerSignal = options?.signal ?? undefined;
    let unlinkCaller = () => {};
    if (callerSignal?.aborted) controller.abort(callerSignal.reason);
    // One listener per caller signal, however many streams share it (see `onAbort`).
    else if (callerSignal) unlinkCaller = onAbort(callerSignal, () => controller.abort(callerSignal.reason));

    void pumpEvents(
      subscriber,
      // Called here, not earlier: the SDK sends the request as soon as `create` is called.
      () => client.messages.create({ ...params, stream: true }, { ...options, signal: controller.signal }),
      () => callerSignal?.aborted === true,
    );

    return () => {
      unlinkCaller();
      controller.abort();
    };
  });
}
