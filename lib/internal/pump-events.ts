import { APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { IncompleteStreamError } from '../errors.js';
import { readEventStream } from '../wire/read-event-stream.js';
import { freezeParsed, noteWireData } from '../wire/wire-data.js';
import type { EventSink } from './event-sink.js';
import type { ClaudeBetaStreamEvent, ClaudeStreamEvent } from '../types.js';
import { MessageDraft } from './message-draft.js';
import { rememberPartialMessage } from './partial-messages.js';

/** A streaming response whose body claude-rx reads itself (`readEventStream`), and where the SDK would log errors. */
export interface EventStreamBody {
  readonly response: Response;
  /** `undefined`: the client's `logLevel` is `off`. */
  readonly logger: { error(...args: unknown[]): void } | undefined;
}

/**
 * Delivers the events of what `open()` gives (an iterable of events, or a response whose body it reads itself) to
 * `subscriber`, and decides how the stream ended.
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
 *
 * `bodyRead` is called just before `complete`: the response was read to its end, so the caller's teardown need not
 * abort a request that is over (an abort then only makes a `DOMException` and wakes fetch's listeners).
 */
export async function pumpEvents(
  subscriber: EventSink<ClaudeStreamEvent | ClaudeBetaStreamEvent>,
  open: () => Promise<AsyncIterable<ClaudeStreamEvent | ClaudeBetaStreamEvent> | EventStreamBody>,
  abortedByCaller: () => boolean = () => false,
  bodyRead: () => void = () => {},
): Promise<void> {
  const draft = new MessageDraft();
  try {
    const opened = await open();
    if (!(Symbol.asyncIterator in opened)) {
      // The body, read here: every event of a network read delivered at once, frozen, its wire data noted.
      await readEventStream(
        opened.response,
        {
          get closed() {
            return subscriber.closed;
          },
          deliver(event, data) {
            freezeParsed(event);
            draft.apply(event);
            noteWireData(event, data);
            subscriber.next(event);
          },
        },
        opened.logger,
      );
    } else {
      for await (const event of opened) {
        if (subscriber.closed) return;
        draft.apply(event);
        subscriber.next(event);
      }
    }
    if (subscriber.closed) return;
    if (draft.stopped) {
      bodyRead();
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
