import { Observable, type OperatorFunction } from 'rxjs';
import { ToolInputParseError } from '../errors.js';
import { IncrementalJsonParser } from '../internal/incremental-json.js';
import { defineJsonSnapshot } from '../internal/json-snapshot.js';
import { isStreamRestart, type ClaudeRxEvent } from '../types.js';

/** The tool-use block a `ToolInput` belongs to. */
export interface ToolInputBlock {
  /** The content block index. */
  readonly index: number;
  /** The tool-use id (`toolu_...`, or `srvtoolu_...` for a server tool). */
  readonly id: string;
  /** The tool's name. */
  readonly name: string;
  /**
   * `tool_use` for your tools, `server_tool_use` for tools the API runs (web search...), `mcp_tool_use` for an MCP
   * server's tools (beta MCP connector).
   */
  readonly blockType: 'tool_use' | 'server_tool_use' | 'mcp_tool_use';
}

/** A tool's input while it streams. */
export interface ToolInputProgress extends ToolInputBlock {
  readonly done: false;
  /** The raw JSON text so far. */
  readonly json: string;
  /**
   * The best-effort value of the JSON so far: complete values, plus a string still arriving as far as it came
   * (keys and numbers still arriving are left out); `undefined` while nothing is complete yet. Frozen: never
   * changed afterwards (the finished parts are shared with later values).
   */
  readonly partial: unknown;
}

/** A tool's input once its block has ended. */
export interface ToolInputComplete extends ToolInputBlock {
  readonly done: true;
  /** The whole JSON text (when no fragment came, the JSON of the `input` the block started with). */
  readonly json: string;
  /**
   * The parsed input, frozen: `{}` when the tool takes no input; the `input` of `content_block_start` when the block
   * streamed no JSON at all, as the SDK keeps it.
   */
  readonly input: unknown;
}

interface OpenBlock {
  readonly block: ToolInputBlock;
  readonly parser: IncrementalJsonParser;
  /** The `input` of `content_block_start`: the whole input when no `input_json_delta` follows. */
  readonly startInput: unknown;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** What `toolInputs` emits: progress while a tool's input streams, then the complete input. */
export type ToolInput = ToolInputProgress | ToolInputComplete;

/**
 * Follows each tool call's input as it streams.
 *
 * Each `input_json_delta` fragment is parsed once, incrementally, so parsing is linear in the size of the input
 * however small the fragments are. Each `partial` shares the finished values and copies (shallowly) only the arrays
 * and objects still open. While those hold few values (the usual input: a few keys and long strings) it is computed
 * at once; once they hold more than 64, on first read, so that following one huge array stays linear.
 *
 * - next: a `ToolInputProgress` (`done: false`) per `input_json_delta` with the JSON so far and a best-effort
 *   `partial` value; a `ToolInputComplete` (`done: true`) at the block's `content_block_stop` with the parsed input
 *   (a block that never stops, cut by `max_tokens`, gets none). `tool_use`, `server_tool_use` and (beta) `mcp_tool_use` blocks are
 *   followed;
 * - error: `ToolInputParseError` naming the block (index, id, tool name) at the first character that cannot be
 *   JSON, or when a block ends with its JSON incomplete; otherwise the source's error;
 * - complete: the source's; unsubscribe: unsubscribes the source and drops the buffers.
 *
 * @returns An operator from stream events to tool input progress.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import { claudeStream, toolInputs } from 'claude-rx';
 *
 * claudeStream(client, { model, max_tokens: 4096, tools, messages })
 *   .pipe(toolInputs())
 *   .subscribe((input) => {
 *     if (input.done) runTool(input.name, input.input);
 *     else preview(input.name, input.partial);
 *   });
 * ```
 */
export function toolInputs(): OperatorFunction<ClaudeRxEvent, ToolInput> {
  return (source) =>
    new Observable<ToolInput>((subscriber) => {
      let open = new Map<number, OpenBlock>();
      const fail = (entry: OpenBlock, cause?: unknown) => {
        const { index, id, name } = entry.block;
        subscriber.error(new ToolInputParseError(index, id, name, entry.parser.text, { cause }));
      };
      const subscription = source.subscribe({
        next(event) {
          if (isStreamRestart(event) || event.type === 'message_start') {
            open = new Map();
            return;
          }
          if (event.type === 'content_block_start') {
            const block = event.content_block;
            if (block.type === 'tool_use' || block.type === 'server_tool_use' || block.type === 'mcp_tool_use') {
              const info = { index: event.index, id: block.id, name: block.name, blockType: block.type } as const;
              open.set(event.index, { block: info, parser: new IncrementalJsonParser(), startInput: block.input });
            }
          } else if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
            const entry = open.get(event.index);
            if (!entry) return;
            try {
              entry.parser.push(event.delta.partial_json);
            } catch (error) {
              fail(entry, error);
              return;
            }
            // Written out field by field: V8 makes a spread followed by new fields a slow dictionary object, per delta.
            const { index, id, name, blockType } = entry.block;
            const progress = { index, id, name, blockType, done: false, json: entry.parser.text, partial: undefined };
            // At once when cheap, else computed on first read: emitting stays linear even for one huge array arriving
            // in tiny fragments.
            defineJsonSnapshot(progress, 'partial', entry.parser, { partialStrings: true, fallback: undefined });
            subscriber.next(Object.freeze(progress) as ToolInputProgress);
          } else if (event.type === 'content_block_stop') {
            const entry = open.get(event.index);
            if (!entry) return;
            open.delete(event.index);
            const { parser, startInput } = entry;
            if (parser.text === '' && startInput !== undefined) {
              // No fragment came: the input is whole in content_block_start (the SDK keeps it as it is).
              const input = deepFreeze(structuredClone(startInput));
              subscriber.next({ ...entry.block, done: true, json: JSON.stringify(input), input });
              return;
            }
            let input: unknown;
            try {
              input = parser.finish();
            } catch (error) {
              fail(entry, error);
              return;
            }
            subscriber.next({ ...entry.block, done: true, json: parser.text, input });
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        open = new Map();
      };
    });
}
