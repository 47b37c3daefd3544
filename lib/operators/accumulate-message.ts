import type Anthropic from '@anthropic-ai/sdk';
import { Observable, type OperatorFunction } from 'rxjs';
import { MESSAGE_CHANGED, MessageDraft, NOTHING_CHANGED } from '../internal/message-draft.js';
import { rememberPartialMessage } from '../internal/partial-messages.js';
import { isRunToolsMarker } from '../run-tools-markers.js';
import { isStreamRestart, type ClaudeRxEvent } from '../types.js';

type Message = Anthropic.Messages.Message;
type ContentBlock = Anthropic.Messages.ContentBlock;

/**
 * Builds the message as it streams: after each event, an immutable (deeply frozen) snapshot of the whole `Message`.
 *
 * The last snapshot equals the SDK's `MessageStream.finalMessage()` for the same stream, for every block kind:
 * text with citations, thinking with its signature, redacted thinking, tool use and server tool use with their
 * parsed `input`, server tool results; `stop_reason`, `stop_sequence`, `usage` and `container`. While a tool's
 * input streams, its `input` is the best-effort parse of the JSON so far (incomplete trailing values left out, as
 * the SDK does): computed at once while the containers still open are small, else when first read.
 *
 * Cost is linear in the stream: a snapshot copies only the block that changed (shallowly: its nested values are
 * frozen once, when they arrive), and tool input is parsed incrementally, never re-parsed per delta. Unchanged blocks
 * (and the finished parts of a tool's input) are shared between snapshots. Values taken from the events (citations,
 * server tool results, `container`) are copied once before being frozen, so the events themselves are never frozen.
 *
 * - next: one snapshot per event from `message_start` on (events before it are skipped); a second
 *   `message_start` starts a new message; a `stream_restart` marker (from `retryOnRateLimit`) drops the message
 *   being built and waits for the next `message_start`;
 * - error: `ToolInputParseError` (with `.partial`) at the `content_block_stop` of a tool call whose input is not JSON,
 *   as the SDK's stream fails (the snapshots before it show the best-effort parse, which is never to be run); else
 *   the source's, with the message so far reachable through `partialMessageOf(error)`;
 * - complete: the source's; unsubscribe: unsubscribes the source and drops the message.
 *
 * @returns An operator from stream events to message snapshots.
 *
 * @example
 * ```ts
 * import { claudeStream, accumulateMessage } from 'claude-rx';
 *
 * claudeStream(client, params)
 *   .pipe(accumulateMessage())
 *   .subscribe((message) => render(message.content));
 * ```
 */
export function accumulateMessage(): OperatorFunction<ClaudeRxEvent, Message> {
  return (source) =>
    new Observable<Message>((subscriber) => {
      const draft = new MessageDraft(true);
      // The latest copy of each block, private and mutable; `content` is the frozen array the snapshots share until a
      // block changes. Copied from `blocks`, never from the last `content`: V8 slices a frozen array slowly (0.5 µs).
      let blocks: ContentBlock[] = [];
      let content: ContentBlock[] = [];
      let snapshot: Message | undefined;
      const subscription = source.subscribe({
        next(event) {
          if (isStreamRestart(event)) {
            draft.reset();
            snapshot = undefined;
            return;
          }
          // runTools' markers are not stream events: no snapshot for them (each turn's message_start starts anew).
          if (isRunToolsMarker(event)) return;
          const change = draft.apply(event);
          if (event.type === 'content_block_stop') {
            const badInput = draft.toolInputError(event.index);
            if (badInput) {
              subscriber.error(badInput);
              return;
            }
          }
          if (event.type === 'message_start') {
            blocks = [];
            content = [];
          }
          if (change !== MESSAGE_CHANGED && change !== NOTHING_CHANGED) {
            blocks[change] = draft.snapshotBlock(change)!;
            content = blocks.slice();
          }
          // `content` is never changed in place (a block change makes a new array), so the snapshot may freeze and keep it.
          if (change !== NOTHING_CHANGED) snapshot = draft.snapshotMessage(content);
          if (snapshot) subscriber.next(snapshot);
        },
        error(error: unknown) {
          // What had arrived stays reachable through `partialMessageOf`, whichever operator upstream failed.
          // (`toMessage` is undefined before `message_start`: nothing is remembered then.)
          rememberPartialMessage(error, draft.toMessage({ resendable: true }));
          subscriber.error(error);
        },
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        // Drop the large strings the draft holds as soon as nobody listens.
        draft.reset();
        blocks = [];
        content = [];
        snapshot = undefined;
      };
    });
}
