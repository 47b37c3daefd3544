import type { StandardSchemaV1 } from '@standard-schema/spec';
import { compileJsonSchema } from './json-schema-validator.js';

/**
 * The Standard Schema interface (https://standardschema.dev), as `@standard-schema/spec` declares it: zod (3.24+ and
 * 4), Valibot, ArkType and others implement it, so no schema library is imported here.
 */
export type { StandardSchemaV1 };

/** The output type of a Standard Schema. */
export type InferSchemaOutput<S> = S extends StandardSchemaV1<unknown, infer Output> ? Output : unknown;

/** The outcome of checking a tool's input. */
export type InputCheck =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problems: string[] };

/** A tool's schema made ready: the JSON schema to send, and how to check an input. */
export interface PreparedSchema {
  readonly jsonSchema: Record<string, unknown>;
  readonly check: (input: unknown) => InputCheck | Promise<InputCheck>;
}

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const standard = (value as Partial<StandardSchemaV1>)['~standard'];
  return typeof standard === 'object' && standard !== null && typeof standard.validate === 'function';
}

/**
 * The JSON schema of a Standard Schema: its Standard JSON Schema interface (`~standard.jsonSchema.input`, zod 4.2+),
 * else a `toJSONSchema()` method (zod 4); `undefined` when it has neither.
 */
function jsonSchemaOf(schema: StandardSchemaV1): unknown {
  const converter = (schema['~standard'] as { jsonSchema?: { input?: unknown } }).jsonSchema;
  // The input side: what the model must send, before any transform or default of the schema.
  if (typeof converter?.input === 'function') {
    return (converter.input as (options: { target: string }) => unknown)({ target: 'draft-2020-12' });
  }
  const toJSONSchema = (schema as { toJSONSchema?: unknown }).toJSONSchema;
  if (typeof toJSONSchema === 'function') return (toJSONSchema as () => unknown).call(schema);
  return undefined;
}

function describeIssue(issue: StandardSchemaV1.Issue): string {
  let path = 'input';
  for (const segment of issue.path ?? []) {
    const key = typeof segment === 'object' ? segment.key : segment;
    path += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  }
  return `${path}: ${issue.message}`;
}

function fromStandardResult(result: StandardSchemaV1.Result<unknown>): InputCheck {
  return result.issues ? { ok: false, problems: result.issues.map(describeIssue) } : { ok: true, value: result.value };
}

/**
 * Prepares a tool's `inputSchema` (a JSON schema or a Standard Schema), and `jsonSchema` when given to override what
 * is sent. Throws a `TypeError` naming the tool when no object JSON schema can be had, or when a JSON schema cannot be
 * checked in full (an unknown keyword, a `format`, an unresolved `$ref`...): a JSON schema is compiled here, once.
 */
export function prepareSchema(
  toolName: string,
  inputSchema: unknown,
  jsonSchema: unknown,
  field: 'inputSchema' | 'input_schema' = 'inputSchema',
): PreparedSchema {
  const where = `runTools: tool ${JSON.stringify(toolName)}`;
  if (isStandardSchema(inputSchema)) {
    const standard = inputSchema['~standard'];
    let sent: unknown = jsonSchema;
    try {
      sent ??= jsonSchemaOf(inputSchema);
    } catch (error) {
      throw new TypeError(`${where}: its ${standard.vendor} schema has no JSON Schema form; pass one as jsonSchema`, {
        cause: error,
      });
    }
    if (sent === undefined) {
      throw new TypeError(
        `${where}: cannot convert its ${standard.vendor} schema to JSON Schema; pass the JSON schema as jsonSchema`,
      );
    }
    return {
      jsonSchema: checkObjectSchema(where, sent, 'jsonSchema'),
      check: (input) => {
        const result = standard.validate(input);
        return result instanceof Promise ? result.then(fromStandardResult) : fromStandardResult(result);
      },
    };
  }
  const schema = checkObjectSchema(where, inputSchema, field);
  const sent = jsonSchema === undefined ? schema : checkObjectSchema(where, jsonSchema, 'jsonSchema');
  let problemsOf: (input: unknown) => string[];
  try {
    problemsOf = compileJsonSchema(schema);
  } catch (error) {
    throw new TypeError(`${where}: its ${field} cannot be checked: ${(error as Error).message}`, { cause: error });
  }
  return {
    jsonSchema: sent,
    check: (input) => {
      const problems = problemsOf(input);
      return problems.length === 0 ? { ok: true, value: input } : { ok: false, problems };
    },
  };
}

function checkObjectSchema(where: string, schema: unknown, field: string): Record<string, unknown> {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new TypeError(
      field === 'inputSchema'
        ? `${where}: inputSchema must be a JSON schema object or a Standard Schema (e.g. zod)`
        : `${where}: ${field} must be a JSON schema object`,
    );
  }
  const type = (schema as Record<string, unknown>)['type'];
  if (type !== 'object') {
    throw new TypeError(
      `${where}: the input schema must have type "object" (the API requires it), got ${String(type)}`,
    );
  }
  return schema as Record<string, unknown>;
}
