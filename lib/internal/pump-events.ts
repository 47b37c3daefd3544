import { APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { IncompleteStreamError } from '../errors.js';
import type { EventSink } from './event-sink.js';
import type { ClaudeBetaStreamEvent, ClaudeStreamEvent } from '../types.js';
import { MessageDraft } from './message-draft.js';
import { rememberPartialMessage } from './partial-messages.js';

/**
 * Delivers the events of `open()`'s iterable to `subscriber`, and decides how the stream ended.
 *
 * - The subscriber unsubscribed (it aborted the request itself): nothing more is delivered, not even an error.
 * - `message_stop` came and the source ended: `complete`.
 * - The source ended without `message_stop`, or failed after `message_start` with anything but an API error
 *   (a connection lost mid-body, an abort by the caller's signal): `IncompleteStreamError` with the partial message.
 * - Any other failure: the original error, unchanged (`instanceof Anthropic.RateLimitError` keeps working); after
 *   `message_start` (a mid-stream `event: error`), with the message so far remembered for `partialMessageOf`.
 *
 * The per-event work is one `MessageDraft.apply` (a switch, and keeping a piece of text): the partial message is
 * only built when it is needed.
 */
export async function pumpEvents(
  subscriber: EventSink<ClaudeStreamEvent | ClaudeBetaStreamEvent>,
  open: () => Promise<AsyncIterable<ClaudeStreamEvent | ClaudeBetaStreamEvent>>,
  abortedByCaller: () => boolean = () => false,
): Promise<void> {
  const draft = new MessageDraft();
  try {
    const events = await open();
    for await (const event of events) {
      if (subscriber.closed) return;
      draft.apply(event);
      subscriber.next(event);
    }
    if (subscriber.closed) return;
    if (draft.stopped) {
      subscriber.complete();
      return;
    }
    // The SDK ends its iterator silently when its request is aborted: a caller's abort is a failure all the same.
    const cause = abortedByCaller() ? new APIUserAbortError() : undefined;
    subscriber.error(
      draft.started || !cause ? new IncompleteStreamError(draft.toMessage({ resendable: true }), { cause }) : cause,
    );
  } catch (error) {
    if (subscriber.closed) return;
    if (!draft.started || draft.stopped) {
      subscriber.error(error);
      return;
    }
    const partial = draft.toMessage({ resendable: true });
    // A mid-stream `event: error` stays the SDK's APIError (users' instanceof checks and retry predicates rely on
    // it); what had arrived is reachable beside it, through `partialMessageOf`.
    if (error instanceof APIError && !(error instanceof APIUserAbortError)) {
      rememberPartialMessage(error, partial);
      subscriber.error(error);
      return;
    }
    subscriber.error(new IncompleteStreamError(partial, { cause: error }));
  }
}
