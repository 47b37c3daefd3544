import type Anthropic from '@anthropic-ai/sdk';
import { ToolInputParseError } from '../errors.js';
import { isRunToolsMarker } from '../run-tools-markers.js';
import { isStreamRestart, type ClaudeRxEvent } from '../types.js';
import { deepFrozenCopy } from './deep-frozen-copy.js';
import { IncrementalJsonParser } from './incremental-json.js';
import { defineJsonSnapshot, replayJson } from './json-snapshot.js';
import { mergeUsage } from './merge-usage.js';
import { copierFor, type ShapeCopier } from './shape-copier.js';
import { TextPieces } from './text-pieces.js';

type Message = Anthropic.Messages.Message;
type ContentBlock = Anthropic.Messages.ContentBlock;

/** A content block as it is being built, plus the tool input text that has no place in the block itself. */
interface BlockDraft {
  /** A private, mutable copy of the block: never handed out, snapshots copy it. */
  readonly block: Record<string, unknown> & { type: string };
  /** Tool-use blocks: the input JSON text so far (outside snapshot mode, without what is still `pending`). */
  json?: string;
  /** Tool-use blocks, in snapshot mode: the parser fed with every fragment. */
  parser?: IncrementalJsonParser;
  /** Outside snapshot mode: the text, thinking or JSON that arrived after what the draft holds, not yet joined. */
  pending?: TextPieces;
  /** Set once `content_block_stop` arrived for this block. */
  stopped: boolean;
  /** How snapshots copy `block`: picked at the first snapshot, and again after a delta that may add a key. */
  copy?: ShapeCopier;
}

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

/**
 * The message of a stream as far as it has arrived, kept mutable and cheap to update: every event costs a
 * switch and, for deltas, keeping one more piece of text. Copies are made only when asked for (`snapshotBlock`,
 * `toMessage`), which is what keeps `claudeStream` near the SDK's own cost while still able to report a partial
 * message when the stream breaks.
 *
 * The rules follow the SDK's `MessageStream` accumulation, so that the final message equals its `finalMessage()`.
 */
export class MessageDraft {
  private message: Message | undefined;
  private blocks: BlockDraft[] = [];
  private stoppedMessage = false;
  /** The frozen usage the last snapshot shared, until a message event changes it. */
  private frozenUsage: Anthropic.Messages.Usage | undefined;
  /** How snapshots copy `message`: picked at the first snapshot, and again after an event that may add a key. */
  private copyMessage: ShapeCopier | undefined;

  /**
   * @param forSnapshots a snapshot will be taken after every event (`accumulateMessage`): text is appended at once,
   *   and tool input is fed to an incremental parser as it arrives, so that every snapshot has a best-effort `input`
   *   at no re-parse cost. Without it (a message needed once, at the end or on failure) text pieces are joined and
   *   the JSON text parsed only when a copy is made.
   */
  constructor(private readonly forSnapshots = false) {}

  /** `message_start` has arrived (and no `message_stop` since a restart). */
  get started(): boolean {
    return this.message !== undefined;
  }

  /** `message_stop` has arrived for the current message. */
  get stopped(): boolean {
    return this.stoppedMessage;
  }

  /** Forgets the current message (a retry starts the stream again). */
  reset(): void {
    this.message = undefined;
    this.blocks = [];
    this.stoppedMessage = false;
  }

  /** Applies one stream event; says what changed (`NOTHING_CHANGED` for an event before `message_start`, a marker). */
  apply(event: ClaudeRxEvent): DraftChange {
    // Deltas first: all but a handful of a stream's events are deltas.
    if (event.type === 'content_block_delta') {
      return this.message !== undefined && this.applyDelta(event) ? event.index : NOTHING_CHANGED;
    }
    // Markers (a retry's restart, runTools' turns) are not part of a message; the caller decides what they mean.
    if (isStreamRestart(event) || isRunToolsMarker(event)) return NOTHING_CHANGED;
    if (event.type === 'message_start') {
      // A beta message has more fields (context management...) and block kinds: kept in the same draft, by shape.
      const started = event.message as Message;
      this.message = {
        ...deepFrozenCopy(started),
        content: [],
        usage: { ...deepFrozenCopy(started.usage) },
      };
      this.frozenUsage = undefined;
      this.copyMessage = undefined;
      this.blocks = [];
      this.stoppedMessage = false;
      return MESSAGE_CHANGED;
    }
    const message = this.message;
    if (!message) return NOTHING_CHANGED;
    switch (event.type) {
      case 'message_stop':
        this.stoppedMessage = true;
        return MESSAGE_CHANGED;
      case 'message_delta':
        applyMessageDelta(message, deepFrozenCopy(event as AnyMessageDeltaEvent));
        this.frozenUsage = undefined;
        this.copyMessage = undefined;
        return MESSAGE_CHANGED;
      case 'content_block_start':
        // Nested values (citations, search results, a tool's starting input) are frozen copies shared by every
        // snapshot; the block object itself stays private and mutable.
        this.blocks[event.index] = {
          block: { ...deepFrozenCopy(event.content_block as unknown as BlockDraft['block']) },
          stopped: false,
        };
        // The final hop's fallback block names the model that served the answer (as the SDK's BetaMessageStream
        // does). A snapshot copies the message's fields with the block, so it shows the new model.
        if (event.content_block.type === 'fallback') message.model = event.content_block.to.model;
        return event.index;
      case 'content_block_stop': {
        const draft = this.blocks[event.index];
        if (!draft) return NOTHING_CHANGED;
        draft.stopped = true;
        return event.index;
      }
      default: {
        // The API adds event types over time: an unknown one changes nothing here and is still forwarded.
        const unknown: never = event;
        void unknown;
        return NOTHING_CHANGED;
      }
    }
  }

  private applyDelta(
    event: Anthropic.Messages.RawContentBlockDeltaEvent | Anthropic.Beta.Messages.BetaRawContentBlockDeltaEvent,
  ): boolean {
    const draft = this.blocks[event.index];
    if (!draft) return false;
    const block = draft.block;
    const delta = event.delta;
    switch (delta.type) {
      case 'text_delta':
        if (block.type !== 'text') return false;
        if (this.forSnapshots) block.text = (block.text as string) + delta.text;
        else (draft.pending ??= new TextPieces()).push(delta.text);
        return true;
      case 'citations_delta':
        if (block.type !== 'text') return false;
        block.citations = Object.freeze([
          ...((block.citations as unknown[] | null | undefined) ?? []),
          deepFrozenCopy(delta.citation),
        ]);
        draft.copy = undefined;
        return true;
      case 'thinking_delta':
        if (block.type !== 'thinking') return false;
        if (this.forSnapshots) block.thinking = (block.thinking as string) + delta.thinking;
        else (draft.pending ??= new TextPieces()).push(delta.thinking);
        return true;
      case 'signature_delta':
        if (block.type !== 'thinking') return false;
        block.signature = delta.signature;
        draft.copy = undefined;
        return true;
      case 'input_json_delta':
        if (!tracksToolInput(block.type)) return false;
        if (!this.forSnapshots) {
          draft.json ??= '';
          (draft.pending ??= new TextPieces()).push(delta.partial_json);
        } else {
          draft.json = (draft.json ?? '') + delta.partial_json;
          draft.parser ??= new IncrementalJsonParser();
          try {
            draft.parser.push(delta.partial_json);
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
        draft.copy = undefined;
        return true;
      default: {
        // The API adds delta kinds over time: an unknown one changes nothing here and is still forwarded.
        const unknown: never = delta;
        void unknown;
        return false;
      }
    }
  }

  /**
   * A frozen copy of one block, as it stands now. Its nested values are shared, already frozen. A tool input still
   * streaming is the best-effort parse of the JSON so far (incomplete trailing values left out, as the SDK does),
   * taken at once while cheap and on first read once large (see `defineJsonSnapshot`), so that following a tool call
   * stays linear.
   */
  snapshotBlock(index: number): ContentBlock | undefined {
    const draft = this.blocks[index];
    if (!draft) return undefined;
    draft.copy ??= copierFor(draft.block);
    const block = draft.copy(draft.block);
    if (draft.json !== undefined) {
      if (draft.stopped || !draft.parser) block.input = toolInput(draft);
      else defineJsonSnapshot(block, 'input', draft.parser, { fallback: EMPTY_INPUT });
    }
    return Object.freeze(block) as unknown as ContentBlock;
  }

  /** A frozen copy of the message fields, with the given content (frozen by this call). */
  snapshotMessage(content: ContentBlock[]): Message | undefined {
    const message = this.message;
    if (!message) return undefined;
    this.frozenUsage ??= Object.freeze({ ...message.usage });
    this.copyMessage ??= copierFor(message);
    const copy = this.copyMessage(message as unknown as Record<string, unknown>);
    copy.content = Object.freeze(content);
    copy.usage = this.frozenUsage;
    return Object.freeze(copy) as unknown as Message;
  }

  /**
   * A plain copy of the whole message. With `resendable`, what could not be sent back as an assistant turn is
   * left out: a thinking block whose signature never came, and text blocks still empty.
   */
  toMessage(options: { resendable?: boolean } = {}): Message | undefined {
    const message = this.message;
    if (!message) return undefined;
    const content: ContentBlock[] = [];
    for (const draft of this.blocks) {
      if (!draft) continue;
      joinPendingText(draft);
      if (options.resendable && !isResendable(draft)) continue;
      content.push(this.copyBlock(draft));
    }
    return { ...message, content, usage: { ...message.usage } };
  }

  /**
   * The error of the tool call at `index` when its block has ended and its input is not JSON, as the SDK's
   * `MessageStream` fails on it: a tool must never run on a value the model did not send. A merely unfinished input
   * is no error (the SDK completes it too). The partial message goes with it.
   */
  toolInputError(index: number): ToolInputParseError | undefined {
    const draft = this.blocks[index];
    if (!draft || !draft.stopped || !tracksToolInput(draft.block.type)) return undefined;
    joinPendingText(draft);
    if (draft.json === undefined) return undefined;
    draft.parser ??= replayJson(draft.json);
    const cause = draft.parser.error;
    if (!cause) return undefined;
    const { id, name } = draft.block;
    return new ToolInputParseError(index, String(id), String(name), draft.json, {
      cause,
      partial: this.toMessage({ resendable: true }),
    });
  }

  /** `toolInputError` of the first block that has one. */
  firstToolInputError(): ToolInputParseError | undefined {
    for (let index = 0; index < this.blocks.length; index++) {
      const error = this.toolInputError(index);
      if (error) return error;
    }
    return undefined;
  }

  private copyBlock(draft: BlockDraft): ContentBlock {
    const block = { ...draft.block };
    if (draft.json !== undefined) block.input = toolInput(draft);
    return block as unknown as ContentBlock;
  }
}

/** Appends the pieces not yet joined to the block's `text`, `thinking` or JSON text, where a copy finds them. */
function joinPendingText(draft: BlockDraft): void {
  const pending = draft.pending;
  if (!pending || pending.empty) return;
  const block = draft.block;
  if (tracksToolInput(block.type)) draft.json = (draft.json ?? '') + pending.take();
  else if (block.type === 'thinking') block.thinking = (block.thinking as string) + pending.take();
  else block.text = (block.text as string) + pending.take();
}

function isResendable(draft: BlockDraft): boolean {
  const block = draft.block;
  if (block.type === 'thinking') return draft.stopped && typeof block.signature === 'string' && block.signature !== '';
  if (block.type === 'text') return block.text !== '';
  return true;
}

/** The input of a tool-use block: parsed once the block is complete, best-effort while it streams. */
function toolInput(draft: BlockDraft): unknown {
  if (draft.json === undefined) return draft.block.input;
  // Kept-text mode parses the whole text once, when a copy is first asked for.
  const parser = draft.parser ?? replayJson(draft.json);
  if (draft.stopped) draft.parser = parser;
  if (draft.stopped && parser.complete) return parser.finish();
  return bestEffort(parser);
}

const EMPTY_INPUT = Object.freeze({});

/** The parser's best-effort value; `{}` while nothing is complete (a tool's input is always an object). */
function bestEffort(parser: IncrementalJsonParser): unknown {
  return parser.snapshot() ?? EMPTY_INPUT;
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
