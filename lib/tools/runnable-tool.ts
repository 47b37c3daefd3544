import type Anthropic from '@anthropic-ai/sdk';
import type { Observable } from 'rxjs';
import type { StandardSchemaV1 } from '@standard-schema/spec';

type ToolResultBlockParam = Anthropic.Messages.ToolResultBlockParam;
type ToolUseBlock = Anthropic.Messages.ToolUseBlock;

/** A content block a tool may return: text, image, document, search result... (what a `tool_result` may hold). */
export type ToolResultContent = Exclude<ToolResultBlockParam['content'], string | undefined>[number];

/**
 * What a tool's `run` may produce: a string (sent as is), an array of content blocks (text, images, documents...,
 * sent as is), `undefined` (a result without content), or any other JSON value (sent as its JSON text).
 */
export type ToolOutput = string | readonly ToolResultContent[] | object | number | boolean | null | undefined;

/** What a tool's `run` is given besides its input. */
export interface ToolRunContext {
  /** Aborted when the run is unsubscribed or the caller's `signal` aborts while the tool runs. */
  readonly signal: AbortSignal;
  /** The `tool_use` block being answered (its `input` is the raw input, before schema transforms). */
  readonly toolUse: ToolUseBlock;
  /** The turn (1 for the first request) whose message called the tool. */
  readonly turn: number;
}

/**
 * A tool that `runTools` offers to Claude and runs when called.
 *
 * @example
 * ```ts
 * import type { RunnableTool } from 'claude-rx';
 *
 * const getWeather: RunnableTool = {
 *   name: 'get_weather',
 *   description: 'The current weather in a city.',
 *   inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
 *   run: async (input, { signal }) => (await fetch(`https://wttr.in/${(input as { city: string }).city}?format=3`, { signal })).text(),
 * };
 * ```
 */
export interface RunnableTool<Input = unknown> {
  /** The name Claude calls it by. */
  readonly name: string;
  /** What it does and when to use it: the model reads this. @defaultValue none */
  readonly description?: string;
  /**
   * Its input: a JSON schema of `type: 'object'`, or a Standard Schema such as a zod 4 schema (checked with its own
   * `validate`; its output, with zod's transforms and defaults applied, is what `run` receives). claude-rx never
   * imports zod itself.
   *
   * A JSON schema is checked by Ajv, compiled once when `runTools` is called: as draft 2020-12, or as draft-07 when
   * its `$schema` says so. Each problem of an input is named by its path (`input.cities[1]`) in the `is_error` result
   * the model reads, ten at most. What Ajv cannot judge is refused then and there, with a `TypeError` naming the tool,
   * rather than let through: a keyword it does not know (the annotations `description`, `title`, `examples`,
   * `default`, `deprecated`, `readOnly`, `writeOnly`, `$comment` are known, as are `$id`, `$defs` and `definitions`),
   * any `format` (none is checked: drop it, or say the same with `pattern`), a `$ref` that does not resolve, a
   * `pattern` JavaScript cannot compile, and a schema its draft's meta-schema rejects.
   */
  readonly inputSchema: Anthropic.Messages.Tool.InputSchema | StandardSchemaV1<unknown, Input>;
  /**
   * The JSON schema sent as the tool's `input_schema`, when it should not be derived from `inputSchema`: needed for
   * a Standard Schema without a JSON Schema converter (zod before 4.2: pass `z.toJSONSchema(schema)`).
   * @defaultValue derived from `inputSchema`
   */
  readonly jsonSchema?: Anthropic.Messages.Tool.InputSchema;
  /**
   * Runs the tool on a valid input (frozen when checked by a JSON schema: it is also part of the conversation).
   * Returns the output, a Promise of it, or an Observable (its last value is the output; unsubscribed if the run
   * is). A throw, a rejection or an error becomes an `is_error` result.
   */
  run(input: Input, context: ToolRunContext): ToolOutput | PromiseLike<ToolOutput> | Observable<ToolOutput>;
}

/**
 * A tool in the API's own shape (`input_schema`, as in `params.tools` or a tool list kept for the raw SDK), plus the
 * `run` that answers it: what the API accepts is sent as it is (`cache_control`, `strict`, ...), the `input_schema`
 * checked by a JSON Schema validator before `run` sees the input.
 *
 * @example
 * ```ts
 * import type { ApiRunnableTool } from 'claude-rx';
 *
 * const getTime: ApiRunnableTool = {
 *   name: 'get_time',
 *   description: 'The current time, as an ISO string.',
 *   input_schema: { type: 'object', properties: {} },
 *   run: () => new Date().toISOString(),
 * };
 * ```
 */
export interface ApiRunnableTool<Input = Record<string, unknown>> extends Omit<Anthropic.Messages.Tool, 'type'> {
  /** Only custom tools run here; a server tool (web search...) goes in `params.tools`. @defaultValue 'custom' */
  readonly type?: 'custom' | null;
  /** As `RunnableTool.run`. */
  run(input: Input, context: ToolRunContext): ToolOutput | PromiseLike<ToolOutput> | Observable<ToolOutput>;
}

/**
 * What `runTools` takes as a tool: `defineTool`'s shape (`inputSchema`) or the API's (`input_schema`).
 *
 * @example
 * ```ts
 * import type { ToolDefinition } from 'claude-rx';
 *
 * const tools: ToolDefinition[] = [
 *   { name: 'now', inputSchema: { type: 'object' }, run: () => new Date().toISOString() },
 *   { name: 'today', input_schema: { type: 'object' }, run: () => new Date().toDateString() },
 * ];
 * ```
 */
export type ToolDefinition = RunnableTool | ApiRunnableTool;

/** The output type of a Standard Schema, as its `~standard.types` declares it. */
type SchemaOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output'];

/**
 * Types a tool's `run` input from its schema: the output type of a Standard Schema (zod...), or the type you name
 * for a JSON schema (`inputSchema`, or `input_schema` in the API's shape). It returns the tool unchanged.
 *
 * @param tool The tool.
 * @returns The same tool, typed.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineTool } from 'claude-rx';
 *
 * const getWeather = defineTool({
 *   name: 'get_weather',
 *   description: 'The current weather in a city.',
 *   inputSchema: z.object({ city: z.string(), unit: z.enum(['C', 'F']).default('C') }),
 *   run: ({ city, unit }) => `${city}: 21 °${unit}`, // typed { city: string; unit: 'C' | 'F' }
 * });
 * ```
 */
export function defineTool<S extends StandardSchemaV1>(
  tool: RunnableTool<SchemaOutput<S>> & { readonly inputSchema: S },
): RunnableTool<SchemaOutput<S>>;
export function defineTool<Input = Record<string, unknown>>(
  tool: RunnableTool<Input> & { readonly inputSchema: Anthropic.Messages.Tool.InputSchema },
): RunnableTool<Input>;
export function defineTool<Input = Record<string, unknown>>(tool: ApiRunnableTool<Input>): ApiRunnableTool<Input>;
export function defineTool(tool: ToolDefinition): ToolDefinition {
  return tool;
}
