import type Anthropic from '@anthropic-ai/sdk';
import { ToolInputParseError } from '../errors.js';
import { isRunToolsMarker } from '../run-tools-markers.js';
import { isStreamRestart, type ClaudeRxEvent } from '../types.js';
import { deepFrozenCopy } from './deep-frozen-copy.js';
import { EMPTY_INPUT, IncrementalJsonParser } from './incremental-json.js';
import { defineJsonSnapshot, replayJson } from './json-snapshot.js';
import { mergeUsage } from './merge-usage.js';
import { copierFor, type ShapeCopier } from './shape-copier.js';
import { TextPieces } from './text-pieces.js';

type Message = Anthropic.Messages.Message;
type ContentBlock = Anthropic.Messages.ContentBlock;

/**
 * Which part of the draft an event changed, so that a snapshot copies only that: a block's index, `MESSAGE_CHANGED`
 * for the message's own fields, or `NOTHING_CHANGED`. A number rather than an object: `claudeStream` applies every
 * event and must not allocate for it.
 */
export type DraftChange = number;

/** The message's own fields changed (`message_start`, `message_delta`, `message_stop`). */
export const MESSAGE_CHANGED: DraftChange = -1;

/** Nothing changed (an event before `message_start`, a marker, an unknown type). */
export const NOTHING_CHANGED: DraftChange = -2;

/** Block types whose `input` arrives as `input_json_delta` fragments (as the SDK's BetaMessageStream decides). */
function tracksToolInput(type: string): boolean {
  return type === 'tool_use' || type === 'server_tool_use' || type === 'mcp_tool_use';
}

type DeltaEvent = Anthropic.Messages.RawContentBlockDeltaEvent | Anthropic.Beta.Messages.BetaRawContentBlockDeltaEvent;

/** A block's fields, open to change. */
type DraftBlock = Record<string, unknown> & { type: string };

/** A content block as it is being built, plus the tool input text that has no place in the block itself. */
class BlockDraft {
  /** A private, mutable copy of the block: never handed out, snapshots copy it. */
  readonly #block: DraftBlock;
  /** See `MessageDraft`'s constructor. */
  readonly #forSnapshots: boolean;
  /** Tool-use blocks: the input JSON text so far (outside snapshot mode, without what is still `pending`). */
  #json: string | undefined;
  /** Tool-use blocks: in snapshot mode, the parser fed with every fragment; else the one made once the block stopped. */
  #parser: IncrementalJsonParser | undefined;
  /** Outside snapshot mode: the text, thinking or JSON that arrived after what the draft holds, not yet joined. */
  #pending: TextPieces | undefined;
  /** How snapshots copy `block`: picked at the first snapshot, and again after a delta that may add a key. */
  #copier: ShapeCopier | undefined;
  /** Set once `content_block_stop` arrived for this block. */
  stopped = false;

  /**
   * Nested values (citations, search results, a tool's starting input) become frozen copies shared by every
   * snapshot; the block object itself stays private and mutable.
   */
  constructor(block: ContentBlock, forSnapshots: boolean) {
    this.#block = { ...deepFrozenCopy(block as unknown as DraftBlock) };
    this.#forSnapshots = forSnapshots;
  }

  /** Applies one delta; says whether it fitted the block (one that does not changes nothing). */
  apply(delta: DeltaEvent['delta']): boolean {
    const block = this.#block;
    switch (delta.type) {
      case 'text_delta':
        if (block.type !== 'text') return false;
        if (this.#forSnapshots) block.text = (block.text as string) + delta.text;
        else (this.#pending ??= new TextPieces()).push(delta.text);
        return true;
      case 'citations_delta':
        if (block.type !== 'text') return false;
        block.citations = Object.freeze([
          ...((block.citations as unknown[] | null | undefined) ?? []),
          deepFrozenCopy(delta.citation),
        ]);
        this.#copier = undefined;
        return true;
      case 'thinking_delta':
        if (block.type !== 'thinking') return false;
        if (this.#forSnapshots) block.thinking = (block.thinking as string) + delta.thinking;
        else (this.#pending ??= new TextPieces()).push(delta.thinking);
        return true;
      case 'signature_delta':
        if (block.type !== 'thinking') return false;
        block.signature = delta.signature;
        this.#copier = undefined;
        return true;
      case 'input_json_delta':
        if (!tracksToolInput(block.type)) return false;
        if (!this.#forSnapshots) {
          this.#json ??= '';
          (this.#pending ??= new TextPieces()).push(delta.partial_json);
        } else {
          this.#json = (this.#json ?? '') + delta.partial_json;
          this.#parser ??= new IncrementalJsonParser();
          try {
            this.#parser.push(delta.partial_json);
          } catch {
            // Malformed input: the text is still kept; the best-effort input stays what it was.
          }
        }
        return true;
      case 'compaction_delta':
        if (block.type !== 'compaction') return false;
        // The delta carries the block's final value (null content: the compaction failed): assigned, as the SDK does.
        block.content = delta.content;
        // A beta-gated key: copied only when the server sent it.
        if ('encrypted_content' in delta) block.encrypted_content = delta.encrypted_content;
        this.#copier = undefined;
        return true;
      default:
        // The API adds delta kinds over time: an unknown one changes nothing here and is still forwarded.
        delta satisfies never;
        return false;
    }
  }

  /** See `MessageDraft.snapshotBlock`. */
  snapshot(): ContentBlock {
    this.#copier ??= copierFor(this.#block);
    const block = this.#copier(this.#block);
    if (this.#json !== undefined) {
      if (this.stopped || !this.#parser) block.input = this.#input();
      else defineJsonSnapshot(block, 'input', this.#parser, { fallback: EMPTY_INPUT });
    }
    return Object.freeze(block) as unknown as ContentBlock;
  }

  /**
   * A plain copy; with `resendable`, `undefined` for what could not be sent back as an assistant turn: a thinking block
   * whose signature never came, a text block still empty.
   */
  copy(resendable: boolean | undefined): ContentBlock | undefined {
    this.#joinPending();
    if (resendable && !this.#resendable()) return undefined;
    const block = { ...this.#block };
    if (this.#json !== undefined) block.input = this.#input();
    return block as unknown as ContentBlock;
  }

  #resendable(): boolean {
    const block = this.#block;
    if (block.type === 'thinking') return this.stopped && typeof block.signature === 'string' && block.signature !== '';
    if (block.type === 'text') return block.text !== '';
    return true;
  }

  /** See `MessageDraft.toolInputError`; `partial` gives the message that goes with the error. */
  inputError(index: number, partial: () => Message | undefined): ToolInputParseError | undefined {
    if (!this.stopped || !tracksToolInput(this.#block.type)) return undefined;
    this.#joinPending();
    if (this.#json === undefined) return undefined;
    this.#parser ??= replayJson(this.#json);
    const cause = this.#parser.error;
    if (!cause) return undefined;
    const { id, name } = this.#block;
    return new ToolInputParseError(index, String(id), String(name), this.#json, { cause, partial: partial() });
  }

  /** Appends the pieces not yet joined to the block's `text`, `thinking` or JSON text, where a copy finds them. */
  #joinPending(): void {
    const pending = this.#pending;
    if (!pending) return;
    const block = this.#block;
    if (tracksToolInput(block.type)) this.#json = (this.#json ?? '') + pending.take();
    else if (block.type === 'thinking') block.thinking = (block.thinking as string) + pending.take();
    else block.text = (block.text as string) + pending.take();
  }

  /** The input of a tool-use block (`json` is set): parsed once the block is complete, best-effort while it streams. */
  #input(): unknown {
    // Kept-text mode parses the whole text once, when a copy is first asked for.
    const parser = this.#parser ?? replayJson(this.#json as string);
    if (this.stopped) this.#parser = parser;
    if (this.stopped && parser.complete) return parser.finish();
    // The best effort; `{}` while nothing is complete (a tool's input is always an object).
    return parser.snapshot() ?? EMPTY_INPUT;
  }
}

/**
 * The message of a stream as far as it has arrived, kept mutable and cheap to update: every event costs a
 * switch and, for deltas, keeping one more piece of text. Copies are made only when asked for (`snapshotBlock`,
 * `toMessage`), which is what keeps `claudeStream` near the SDK's own cost while still able to report a partial
 * message when the stream breaks.
 *
 * The rules follow the SDK's `MessageStream` accumulation, so that the final message equals its `finalMessage()`.
 */
export class MessageDraft {
  #message: Message | undefined;
  #blocks: BlockDraft[] = [];
  #stoppedMessage = false;
  /** The frozen usage the last snapshot shared, until a message event changes it. */
  #frozenUsage: Anthropic.Messages.Usage | undefined;
  /** How snapshots copy `message`: picked at the first snapshot, and again after an event that may add a key. */
  #copyMessage: ShapeCopier | undefined;
  readonly #forSnapshots: boolean;

  /**
   * @param forSnapshots a snapshot will be taken after every event (`accumulateMessage`): text is appended at once,
   *   and tool input is fed to an incremental parser as it arrives, so that every snapshot has a best-effort `input`
   *   at no re-parse cost. Without it (a message needed once, at the end or on failure) text pieces are joined and
   *   the JSON text parsed only when a copy is made.
   */
  constructor(forSnapshots = false) {
    this.#forSnapshots = forSnapshots;
  }

  /** `message_start` has arrived (and no `message_stop` since a restart). */
  get started(): boolean {
    return this.#message !== undefined;
  }

  /** `message_stop` has arrived for the current message. */
  get stopped(): boolean {
    return this.#stoppedMessage;
  }

  /** Forgets the current message (a retry starts the stream again). */
  reset(): void {
    this.#message = undefined;
    this.#blocks = [];
    this.#stoppedMessage = false;
    this.#frozenUsage = undefined;
    this.#copyMessage = undefined;
  }

  /** Applies one stream event; says what changed (`NOTHING_CHANGED` for an event before `message_start`, a marker). */
  apply(event: ClaudeRxEvent): DraftChange {
    // Deltas first: all but a handful of a stream's events are deltas.
    if (event.type === 'content_block_delta') {
      return this.#message !== undefined && this.#blocks[event.index]?.apply(event.delta)
        ? event.index
        : NOTHING_CHANGED;
    }
    // Markers (a retry's restart, runTools' turns) are not part of a message; the caller decides what they mean.
    if (isStreamRestart(event) || isRunToolsMarker(event)) return NOTHING_CHANGED;
    if (event.type === 'message_start') {
      // A beta message has more fields (context management...) and block kinds: kept in the same draft, by shape.
      const started = event.message as Message;
      this.reset();
      this.#message = {
        ...deepFrozenCopy(started),
        content: [],
        usage: { ...deepFrozenCopy(started.usage) },
      };
      return MESSAGE_CHANGED;
    }
    const message = this.#message;
    if (!message) return NOTHING_CHANGED;
    switch (event.type) {
      case 'message_stop':
        this.#stoppedMessage = true;
        return MESSAGE_CHANGED;
      case 'message_delta':
        applyMessageDelta(message, deepFrozenCopy(event as AnyMessageDeltaEvent));
        this.#frozenUsage = undefined;
        this.#copyMessage = undefined;
        return MESSAGE_CHANGED;
      case 'content_block_start':
        this.#blocks[event.index] = new BlockDraft(event.content_block as ContentBlock, this.#forSnapshots);
        // The final hop's fallback block names the model that served the answer (as the SDK's BetaMessageStream
        // does). A snapshot copies the message's fields with the block, so it shows the new model.
        if (event.content_block.type === 'fallback') message.model = event.content_block.to.model;
        return event.index;
      case 'content_block_stop': {
        const draft = this.#blocks[event.index];
        if (!draft) return NOTHING_CHANGED;
        draft.stopped = true;
        return event.index;
      }
      default:
        // The API adds event types over time: an unknown one changes nothing here and is still forwarded.
        event satisfies never;
        return NOTHING_CHANGED;
    }
  }

  /**
   * A frozen copy of one block, as it stands now. Its nested values are shared, already frozen. A tool input still
   * streaming is the best-effort parse of the JSON so far (incomplete trailing values left out, as the SDK does),
   * taken at once while cheap and on first read once large (see `defineJsonSnapshot`), so that following a tool call
   * stays linear.
   */
  snapshotBlock(index: number): ContentBlock | undefined {
    return this.#blocks[index]?.snapshot();
  }

  /** A frozen copy of the message fields, with the given content (frozen by this call). */
  snapshotMessage(content: ContentBlock[]): Message | undefined {
    const message = this.#message;
    if (!message) return undefined;
    this.#frozenUsage ??= Object.freeze({ ...message.usage });
    this.#copyMessage ??= copierFor(message);
    const copy = this.#copyMessage(message as unknown as Record<string, unknown>);
    copy.content = Object.freeze(content);
    copy.usage = this.#frozenUsage;
    return Object.freeze(copy) as unknown as Message;
  }

  /**
   * A plain copy of the whole message. With `resendable`, what could not be sent back as an assistant turn is
   * left out: a thinking block whose signature never came, and text blocks still empty.
   */
  toMessage({ resendable }: { resendable?: boolean } = {}): Message | undefined {
    const message = this.#message;
    if (!message) return undefined;
    const content: ContentBlock[] = [];
    for (const draft of this.#blocks) {
      const block = draft?.copy(resendable);
      if (block) content.push(block);
    }
    return { ...message, content, usage: { ...message.usage } };
  }

  /**
   * The error of the tool call at `index` when its block has ended and its input is not JSON, as the SDK's
   * `MessageStream` fails on it: a tool must never run on a value the model did not send. A merely unfinished input
   * is no error (the SDK completes it too). The partial message goes with it.
   */
  toolInputError(index: number): ToolInputParseError | undefined {
    return this.#blocks[index]?.inputError(index, () => this.toMessage({ resendable: true }));
  }

  /** `toolInputError` of the first block that has one. */
  firstToolInputError(): ToolInputParseError | undefined {
    for (let index = 0; index < this.#blocks.length; index++) {
      const error = this.toolInputError(index);
      if (error) return error;
    }
    return undefined;
  }
}

/** A `message_delta` of either API: the beta one has more fields, which the draft keeps by shape. */
type AnyMessageDeltaEvent = Anthropic.Messages.RawMessageDeltaEvent &
  Partial<Pick<Anthropic.Beta.Messages.BetaRawMessageDeltaEvent, 'context_management' | 'input_transformations'>>;

function applyMessageDelta(message: Message, event: AnyMessageDeltaEvent): void {
  message.stop_reason = event.delta.stop_reason;
  message.stop_sequence = event.delta.stop_sequence;
  message.stop_details = event.delta.stop_details;
  if (event.delta.container != null) message.container = event.delta.container;
  // Beta: set when the server sent them, as the SDK's BetaMessageStream does.
  const beta = message as Message &
    Partial<Pick<Anthropic.Beta.Messages.BetaMessage, 'context_management'>> & {
      input_transformations?: unknown;
    };
  if (event.context_management != null) beta.context_management = event.context_management;
  if (event.input_transformations != null) beta.input_transformations = event.input_transformations;
  mergeUsage(message.usage, event.usage);
}
