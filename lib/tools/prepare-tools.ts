import type Anthropic from '@anthropic-ai/sdk';
import { show } from '../internal/show.js';
import { isStandardSchema, prepareSchema, type PreparedSchema } from '../internal/tool-schema.js';
import type { ToolDefinition, ToolRunContext } from './runnable-tool.js';

/** A tool made ready to offer and to run: its definition as sent, how to check an input, and its `run`. */
export interface PreparedTool {
  readonly name: string;
  /** What goes into the request's `tools`. */
  readonly definition: Anthropic.Messages.Tool;
  readonly schema: PreparedSchema;
  readonly run: (input: unknown, context: ToolRunContext) => unknown;
}

/** The fields of a `RunnableTool` (defineTool's shape): never sent as they are. */
const OWN_FIELDS = new Set(['run', 'inputSchema', 'jsonSchema']);

const SHAPES =
  '`{ name, description, inputSchema, run }` (inputSchema a JSON schema or a Standard Schema such as zod), or the ' +
  "API's shape `{ name, description, input_schema, run }`";

/**
 * Checks `tools` and prepares each: its definition for the request and its input check. Takes both shapes of a tool
 * (`defineTool`'s `inputSchema`, the API's `input_schema`); a wrong one gets a `TypeError` naming the tool and what was
 * expected. `serverTools` (from `params.tools`) only reserve their names.
 *
 * @example
 * ```ts
 * const prepared = prepareTools([getWeather], params.tools ?? []);
 * const body = { ...params, tools: [...(params.tools ?? []), ...[...prepared.values()].map((t) => t.definition)] };
 * ```
 */
export function prepareTools(
  tools: unknown,
  serverTools: readonly Anthropic.Messages.ToolUnion[],
): Map<string, PreparedTool> {
  if (!Array.isArray(tools)) throw new TypeError(`runTools: tools must be an array of tools: ${SHAPES}`);
  const taken = new Set(serverTools.map((tool) => ('name' in tool ? tool.name : undefined)));
  const prepared = new Map<string, PreparedTool>();
  for (const tool of tools as unknown[]) {
    if (typeof tool !== 'object' || tool === null) {
      throw new TypeError(`runTools: each tool must be an object, ${SHAPES}; got ${show(tool)}`);
    }
    const entry = prepareTool(tool as Partial<ToolDefinition> & Record<string, unknown>);
    if (taken.has(entry.name) || prepared.has(entry.name)) {
      throw new TypeError(`runTools: two tools are named ${JSON.stringify(entry.name)}`);
    }
    prepared.set(entry.name, entry);
  }
  return prepared;
}

function prepareTool(tool: Record<string, unknown>): PreparedTool {
  const { name, run, description } = tool;
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`runTools: each tool needs a name (a non-empty string): ${SHAPES}`);
  }
  const where = `runTools: tool ${JSON.stringify(name)}`;
  if (typeof run !== 'function') throw new TypeError(`${where} needs a run function: ${SHAPES}`);
  if (description !== undefined && typeof description !== 'string') {
    throw new TypeError(`${where}: description must be a string, got ${show(description)}`);
  }
  const hasOwnShape = tool['inputSchema'] !== undefined;
  const hasApiShape = tool['input_schema'] !== undefined;
  if (hasOwnShape === hasApiShape) {
    throw new TypeError(
      hasOwnShape
        ? `${where} has both inputSchema and input_schema: give one, ${SHAPES}`
        : `${where} has no input schema: expected ${SHAPES}`,
    );
  }
  if (hasApiShape) return prepareApiShaped(where, tool, run as PreparedTool['run']);
  const schema = prepareSchema(name, tool['inputSchema'], tool['jsonSchema']);
  const definition: Anthropic.Messages.Tool = {
    name,
    ...(description === undefined ? {} : { description }),
    input_schema: schema.jsonSchema as Anthropic.Messages.Tool.InputSchema,
  };
  return { name, definition, schema, run: run as PreparedTool['run'] };
}

/** A tool in the API's shape: every field but `run` is sent as it is, `input_schema` checked as a JSON schema. */
function prepareApiShaped(where: string, tool: Record<string, unknown>, run: PreparedTool['run']): PreparedTool {
  const inputSchema = tool['input_schema'];
  if (isStandardSchema(inputSchema)) {
    throw new TypeError(`${where}: input_schema must be a JSON schema; give a Standard Schema (zod...) as inputSchema`);
  }
  if (tool['type'] != null && tool['type'] !== 'custom') {
    throw new TypeError(
      `${where}: only custom tools run here, got type ${show(tool['type'])}; put server tools in params.tools`,
    );
  }
  const schema = prepareSchema(String(tool['name']), inputSchema, undefined, 'input_schema');
  const definition: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(tool)) if (!OWN_FIELDS.has(key)) definition[key] = value;
  return {
    name: String(tool['name']),
    definition: definition as unknown as Anthropic.Messages.Tool,
    schema,
    run,
  };
}
