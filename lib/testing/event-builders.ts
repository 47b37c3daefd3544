import type Anthropic from '@anthropic-ai/sdk';

import { fakeId } from './ids.js';

type RawMessageStreamEvent = Anthropic.Messages.RawMessageStreamEvent;
type StopReason = Anthropic.Messages.StopReason;
type Usage = Anthropic.Messages.Usage;

/** Characters per delta when neither the block nor the message sets `chunkSize`. */
const DEFAULT_CHUNK_SIZE = 16;

/** The model named in `message_start` when `messageEvents` is not given one. */
const DEFAULT_MODEL = 'claude-sonnet-5-5';

/** Usage fields the API reports in `message_delta` rather than in `message_start`. */
const DELTA_USAGE_KEYS = new Set(['output_tokens', 'server_tool_use', 'output_tokens_details']);

/**
 * One content block of a message to stream: the events from its `content_block_start` to its
 * `content_block_stop`, built by {@link text}, {@link thinking}, {@link toolUse} and the other block builders.
 *
 * Implement it to stream a block kind the builders do not cover.
 *
 * @example
 * ```ts
 * import { messageEvents, type BlockSpec } from 'claude-rx/testing';
 *
 * const upload: BlockSpec = {
 *   type: 'container_upload',
 *   toEvents: (index) => [
 *     { type: 'content_block_start', index, content_block: { type: 'container_upload', file_id: 'file_1' } },
 *     { type: 'content_block_stop', index },
 *   ],
 * };
 * const events = messageEvents([upload]);
 * ```
 */
export interface BlockSpec {
  /** The content block's `type`; a `tool_use` block makes `tool_use` the default stop reason. */
  readonly type: string;
  /**
   * The block's events.
   *
   * @param index - the block's position in the message, for every event's `index`.
   * @param context - message-wide settings; `chunkSize` applies unless the block set its own.
   */
  toEvents(index: number, context: { readonly chunkSize: number }): RawMessageStreamEvent[];
}

/**
 * Options of {@link messageEvents} and the message shortcuts.
 *
 * @example
 * ```ts
 * import { messageEvents, text, type MessageEventsOptions } from 'claude-rx/testing';
 *
 * const options: MessageEventsOptions = { id: 'msg_1', stopReason: 'max_tokens', usage: { output_tokens: 7 } };
 * const events = messageEvents([text('cut sh')], options);
 * ```
 */
export interface MessageEventsOptions {
  /** The message id. @defaultValue a random `msg_01...` id */
  readonly id?: string;
  /** The model named in `message_start`. @defaultValue `'claude-sonnet-5-5'` */
  readonly model?: string;
  /** `message_delta.delta.stop_reason`. @defaultValue `'tool_use'` if a block is `tool_use`, else `'end_turn'` */
  readonly stopReason?: StopReason | null;
  /** `message_delta.delta.stop_sequence`. @defaultValue `null` */
  readonly stopSequence?: string | null;
  /**
   * Token counts. `input_tokens` and the cache counters (and any other field) go to `message_start`;
   * `output_tokens`, `server_tool_use` and `output_tokens_details` go to `message_delta`, where the API reports
   * them. `message_start` always carries `output_tokens: 1`, as the API's does.
   *
   * @defaultValue `input_tokens: 10`, cache counters `0`, `output_tokens` about a quarter of the streamed characters
   */
  readonly usage?: Partial<Usage>;
  /** A container reported in `message_delta` (with `container: null` in `message_start`), as code execution does. */
  readonly container?: Anthropic.Messages.Container;
  /** Characters per delta for blocks that do not set their own. @defaultValue 16 */
  readonly chunkSize?: number;
}

/**
 * The raw events of a whole message: `message_start`, each block's events, `message_delta`, `message_stop`.
 *
 * The shapes mirror what the Messages API sends (see `spec/fixtures/recorded/*.sse`), which is leaner than the
 * SDK's types: streamed blocks omit fields the types declare, such as a text block's `citations` or a tool use
 * block's `caller`, exactly as the API omits them. Feed the list to {@link streamReply} or to any consumer of raw
 * events.
 *
 * @param blocks - the content blocks, in order.
 * @param options - ids, stop reason, usage and chunking.
 * @returns a fresh array of fresh event objects.
 * @throws TypeError if a `chunkSize` is not a positive integer.
 *
 * @example
 * ```ts
 * import { messageEvents, text, thinking, toolUse } from 'claude-rx/testing';
 *
 * const events = messageEvents([
 *   thinking('The user wants the weather.', 'sig_1'),
 *   text('Let me check.'),
 *   toolUse({ id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }),
 * ]);
 * // stop_reason defaults to 'tool_use' here
 * ```
 */
export function messageEvents(
  blocks: readonly BlockSpec[],
  options: MessageEventsOptions = {},
): RawMessageStreamEvent[] {
  const chunkSize = checkChunkSize(options.chunkSize ?? DEFAULT_CHUNK_SIZE, 'chunkSize');
  const body = blocks.flatMap((block, index) => block.toEvents(index, { chunkSize }));

  const usage: Partial<Usage> = options.usage ?? {};
  const startExtras: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(usage)) {
    if (!DELTA_USAGE_KEYS.has(key)) startExtras[key] = value;
  }
  const startUsage = {
    input_tokens: 10,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: 1,
    service_tier: 'standard',
    ...startExtras,
  };
  const deltaUsage = {
    output_tokens: usage.output_tokens ?? estimateOutputTokens(body),
    ...(usage.server_tool_use == null ? {} : { server_tool_use: usage.server_tool_use }),
    ...(usage.output_tokens_details == null ? {} : { output_tokens_details: usage.output_tokens_details }),
  };
  const stopReason =
    options.stopReason === undefined
      ? blocks.some((block) => block.type === 'tool_use')
        ? 'tool_use'
        : 'end_turn'
      : options.stopReason;

  return [
    wire({
      type: 'message_start',
      message: {
        id: options.id ?? fakeId('msg_01'),
        type: 'message',
        role: 'assistant',
        model: options.model ?? DEFAULT_MODEL,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        ...(options.container === undefined ? {} : { container: null }),
        usage: startUsage,
      },
    }),
    ...body,
    wire({
      type: 'message_delta',
      delta: {
        stop_reason: stopReason,
        stop_sequence: options.stopSequence ?? null,
        ...(options.container === undefined ? {} : { container: options.container }),
      },
      usage: deltaUsage,
    }),
    wire({ type: 'message_stop' }),
  ];
}

/**
 * A text block: `text_delta` events of `chunkSize` characters, preceded by one `citations_delta` per citation.
 *
 * @param value - the block's text.
 * @param options - `citations` to attach and `chunkSize` (characters per delta).
 * @returns the block, for {@link messageEvents}.
 *
 * @example
 * ```ts
 * import { messageEvents, text } from 'claude-rx/testing';
 *
 * const events = messageEvents([
 *   text('The grass is green.', {
 *     citations: [
 *       {
 *         type: 'char_location',
 *         cited_text: 'The grass is green.',
 *         document_index: 0,
 *         document_title: 'Facts',
 *         start_char_index: 0,
 *         end_char_index: 19,
 *         file_id: null,
 *       },
 *     ],
 *   }),
 * ]);
 * ```
 */
export function text(
  value: string,
  options: { readonly citations?: readonly Anthropic.Messages.TextCitation[]; readonly chunkSize?: number } = {},
): BlockSpec {
  const ownChunkSize = options.chunkSize === undefined ? undefined : checkChunkSize(options.chunkSize, 'chunkSize');
  const citations = [...(options.citations ?? [])];
  return {
    type: 'text',
    toEvents: (index, context) => [
      wire({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }),
      ...citations.map((citation) => delta(index, { type: 'citations_delta', citation: structuredClone(citation) })),
      ...splitText(value, ownChunkSize ?? context.chunkSize).map((piece) =>
        delta(index, { type: 'text_delta', text: piece }),
      ),
      wire({ type: 'content_block_stop', index }),
    ],
  };
}

/**
 * An extended-thinking block: `thinking_delta` events, then one `signature_delta`.
 *
 * @param value - the thinking text.
 * @param signature - the block's signature, sent whole in the `signature_delta`.
 * @param options - `chunkSize` (characters per delta).
 * @returns the block, for {@link messageEvents}.
 *
 * @example
 * ```ts
 * import { messageEvents, text, thinking } from 'claude-rx/testing';
 *
 * const events = messageEvents([thinking('2 + 2 is 4.', 'EqQBCgIYAh...'), text('4')]);
 * ```
 */
export function thinking(value: string, signature: string, options: { readonly chunkSize?: number } = {}): BlockSpec {
  const ownChunkSize = options.chunkSize === undefined ? undefined : checkChunkSize(options.chunkSize, 'chunkSize');
  return {
    type: 'thinking',
    toEvents: (index, context) => [
      wire({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }),
      ...splitText(value, ownChunkSize ?? context.chunkSize).map((piece) =>
        delta(index, { type: 'thinking_delta', thinking: piece }),
      ),
      delta(index, { type: 'signature_delta', signature }),
      wire({ type: 'content_block_stop', index }),
    ],
  };
}

/**
 * A redacted-thinking block: the encrypted `data` arrives whole in `content_block_start`, with no deltas.
 *
 * @param data - the opaque encrypted thinking.
 * @returns the block, for {@link messageEvents}.
 *
 * @example
 * ```ts
 * import { messageEvents, redactedThinking, text } from 'claude-rx/testing';
 *
 * const events = messageEvents([redactedThinking('EmwKAhgBEgy3va3pzix...'), text('Done.')]);
 * ```
 */
export function redactedThinking(data: string): BlockSpec {
  return {
    type: 'redacted_thinking',
    toEvents: (index) => [
      wire({ type: 'content_block_start', index, content_block: { type: 'redacted_thinking', data } }),
      wire({ type: 'content_block_stop', index }),
    ],
  };
}

/**
 * Options of {@link toolUse}.
 *
 * @example
 * ```ts
 * import { toolUse, type ToolUseSpec } from 'claude-rx/testing';
 *
 * const spec: ToolUseSpec = { id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' }, chunkSize: 4 };
 * const block = toolUse(spec);
 * ```
 */
export interface ToolUseSpec {
  /** The tool use id. @defaultValue a random `toolu_01...` id */
  readonly id?: string;
  /** The tool's name. */
  readonly name: string;
  /** The input, streamed as its JSON text. */
  readonly input: unknown;
  /** Characters of JSON per `input_json_delta`. @defaultValue the message's `chunkSize` */
  readonly chunkSize?: number;
}

/**
 * A client tool use block: `content_block_start` with `input: {}`, then the input's JSON text in
 * `input_json_delta` pieces, the first one empty as the API sends it.
 *
 * @param spec - the tool's name, input and optional id.
 * @returns the block, for {@link messageEvents}; it makes `tool_use` the message's default stop reason.
 *
 * @example
 * ```ts
 * import { messageEvents, text, toolUse } from 'claude-rx/testing';
 *
 * const events = messageEvents([text('Checking.'), toolUse({ name: 'get_weather', input: { city: 'Paris' } })]);
 * ```
 */
export function toolUse(spec: ToolUseSpec): BlockSpec {
  return jsonInputBlock('tool_use', spec.id ?? fakeId('toolu_01'), spec.name, spec.input, spec.chunkSize);
}

/**
 * Options of {@link serverToolUse}.
 *
 * @example
 * ```ts
 * import { serverToolUse, type ServerToolUseSpec } from 'claude-rx/testing';
 *
 * const spec: ServerToolUseSpec = { id: 'srvtoolu_1', name: 'web_search', input: { query: 'rxjs' } };
 * const block = serverToolUse(spec);
 * ```
 */
export interface ServerToolUseSpec {
  /** The server tool use id, which the result block refers to. @defaultValue a random `srvtoolu_01...` id */
  readonly id?: string;
  /** The server tool's name. */
  readonly name: Anthropic.Messages.ServerToolUseBlock['name'];
  /** The input, streamed as its JSON text. */
  readonly input: unknown;
  /** Characters of JSON per `input_json_delta`. @defaultValue the message's `chunkSize` */
  readonly chunkSize?: number;
}

/**
 * A server tool use block (e.g. `web_search`), streamed like {@link toolUse}: `input: {}` then `input_json_delta`s.
 *
 * Follow it with the tool's result block, e.g. {@link webSearchToolResult}, passing the same id.
 *
 * @param spec - the server tool's name, input and optional id.
 * @returns the block, for {@link messageEvents}.
 *
 * @example
 * ```ts
 * import { messageEvents, serverToolUse, text, webSearchToolResult } from 'claude-rx/testing';
 *
 * const events = messageEvents([
 *   serverToolUse({ id: 'srvtoolu_1', name: 'web_search', input: { query: 'rxjs 7' } }),
 *   webSearchToolResult({ toolUseId: 'srvtoolu_1', content: [] }),
 *   text('Nothing found.'),
 * ]);
 * ```
 */
export function serverToolUse(spec: ServerToolUseSpec): BlockSpec {
  return jsonInputBlock('server_tool_use', spec.id ?? fakeId('srvtoolu_01'), spec.name, spec.input, spec.chunkSize);
}

/**
 * A `web_search_tool_result` block: its whole `content` (results or an error object) arrives in
 * `content_block_start`, with no deltas.
 *
 * @param spec - the id of the `server_tool_use` block it answers and the results.
 * @returns the block, for {@link messageEvents}.
 *
 * @example
 * ```ts
 * import { messageEvents, serverToolUse, webSearchToolResult } from 'claude-rx/testing';
 *
 * const events = messageEvents([
 *   serverToolUse({ id: 'srvtoolu_1', name: 'web_search', input: { query: 'rxjs' } }),
 *   webSearchToolResult({
 *     toolUseId: 'srvtoolu_1',
 *     content: [{ type: 'web_search_result', title: 'RxJS', url: 'https://rxjs.dev', encrypted_content: 'Eq...', page_age: null }],
 *   }),
 * ]);
 * ```
 */
export function webSearchToolResult(spec: {
  readonly toolUseId: string;
  readonly content: Anthropic.Messages.WebSearchToolResultBlockContent;
}): BlockSpec {
  return {
    type: 'web_search_tool_result',
    toEvents: (index) => [
      wire({
        type: 'content_block_start',
        index,
        content_block: {
          type: 'web_search_tool_result',
          tool_use_id: spec.toolUseId,
          content: structuredClone(spec.content),
        },
      }),
      wire({ type: 'content_block_stop', index }),
    ],
  };
}

/**
 * The events of a message with one text block: `messageEvents([text(value)], options)`.
 *
 * @param value - the reply's text.
 * @param options - message options, plus the text block's `citations`.
 * @returns the raw events, for {@link streamReply}.
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, streamReply, textMessage } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * server.enqueue(streamReply(textMessage('Hello!', { chunkSize: 2 })));
 * ```
 */
export function textMessage(
  value: string,
  options: MessageEventsOptions & { readonly citations?: readonly Anthropic.Messages.TextCitation[] } = {},
): RawMessageStreamEvent[] {
  return messageEvents([text(value, { ...(options.citations ? { citations: options.citations } : {}) })], options);
}

/**
 * The events of a message that thinks, then answers: a signed thinking block and a text block.
 *
 * @param thinkingText - the thinking block's text.
 * @param answer - the text block's text.
 * @param options - message options, plus the thinking block's `signature`.
 * @returns the raw events, for {@link streamReply}.
 *
 * @example
 * ```ts
 * import { streamReply, thinkingMessage } from 'claude-rx/testing';
 *
 * const reply = streamReply(thinkingMessage('Six times seven...', '42', { signature: 'sig_1' }));
 * ```
 */
export function thinkingMessage(
  thinkingText: string,
  answer: string,
  options: MessageEventsOptions & { readonly signature?: string } = {},
): RawMessageStreamEvent[] {
  return messageEvents([thinking(thinkingText, options.signature ?? fakeId('sig_', 48)), text(answer)], options);
}

/**
 * The events of a message that calls one client tool, optionally after some text; it stops with `tool_use`.
 *
 * @param name - the tool's name.
 * @param input - the tool's input.
 * @param options - message options, plus the block's `toolUseId` and a leading `text` block.
 * @returns the raw events, for {@link streamReply}.
 *
 * @example
 * ```ts
 * import { streamReply, toolUseMessage } from 'claude-rx/testing';
 *
 * const reply = streamReply(
 *   toolUseMessage('get_weather', { city: 'Paris' }, { toolUseId: 'toolu_1', text: 'Let me check.' }),
 * );
 * ```
 */
export function toolUseMessage(
  name: string,
  input: unknown,
  options: MessageEventsOptions & { readonly toolUseId?: string; readonly text?: string } = {},
): RawMessageStreamEvent[] {
  const call = toolUse({ name, input, ...(options.toolUseId === undefined ? {} : { id: options.toolUseId }) });
  return messageEvents(options.text === undefined ? [call] : [text(options.text), call], options);
}

function jsonInputBlock(
  type: 'tool_use' | 'server_tool_use',
  id: string,
  name: string,
  input: unknown,
  chunkSize: number | undefined,
): BlockSpec {
  const ownChunkSize = chunkSize === undefined ? undefined : checkChunkSize(chunkSize, 'chunkSize');
  const json = JSON.stringify(input);
  if (json === undefined) throw new TypeError(`${type}: input must be JSON-serializable`);
  return {
    type,
    toEvents: (index, context) => [
      wire({ type: 'content_block_start', index, content_block: { type, id, name, input: {} } }),
      // The API opens every tool input with an empty partial_json; consumers must not choke on it.
      delta(index, { type: 'input_json_delta', partial_json: '' }),
      ...splitText(json, ownChunkSize ?? context.chunkSize).map((piece) =>
        delta(index, { type: 'input_json_delta', partial_json: piece }),
      ),
      wire({ type: 'content_block_stop', index }),
    ],
  };
}

function delta(index: number, payload: Anthropic.Messages.RawContentBlockDelta): RawMessageStreamEvent {
  return { type: 'content_block_delta', index, delta: payload };
}

// The SDK's types declare fields the API leaves out of streamed objects (`citations`, `caller`, `container`,
// `stop_details`, ...). The builders mirror the wire, so this is the one place that calls a wire object an event.
function wire(event: object): RawMessageStreamEvent {
  return event as RawMessageStreamEvent;
}

/** Splits by code points, so that a delta never ends inside a surrogate pair. */
function splitText(value: string, size: number): string[] {
  const codePoints = Array.from(value);
  const pieces: string[] = [];
  for (let start = 0; start < codePoints.length; start += size) {
    pieces.push(codePoints.slice(start, start + size).join(''));
  }
  return pieces;
}

function estimateOutputTokens(events: readonly RawMessageStreamEvent[]): number {
  let characters = 0;
  for (const event of events) {
    if (event.type !== 'content_block_delta') continue;
    const payload = event.delta;
    switch (payload.type) {
      case 'text_delta':
        characters += payload.text.length;
        break;
      case 'thinking_delta':
        characters += payload.thinking.length;
        break;
      case 'input_json_delta':
        characters += payload.partial_json.length;
        break;
      case 'citations_delta':
      case 'signature_delta':
        break;
      default:
        payload satisfies never;
    }
  }
  return Math.max(1, Math.ceil(characters / 4));
}

function checkChunkSize(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}
