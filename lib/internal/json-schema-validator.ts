import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

/**
 * Compiles a tool's JSON input schema with Ajv, once, into a check whose messages are for the model: it reads them
 * in an `is_error` tool result and tries again, so each names the path (`input.cities[1]`) and what was expected.
 *
 * Draft 2020-12 is the default (what the API and zod 4 speak); a schema whose `$schema` names draft-07 is checked as
 * draft-07 (`items` as an array, `additionalItems`...). Nothing is let through unjudged: a keyword Ajv does not know
 * (annotations such as `description`, `title`, `examples`, `default`, `deprecated` are known), a `format` (no format
 * is checked: claude-rx carries no format library), a `$ref` that does not resolve, a pattern JavaScript cannot
 * compile, or a schema that breaks its draft's meta-schema makes the compilation throw a `TypeError` saying why.
 */

/** At most this many problems are reported: the first ones are what the model needs to fix. */
const MAX_PROBLEMS = 10;

/** The problems of a value, as messages such as `input.city: expected string, got number`; empty when it conforms. */
export type JsonSchemaCheck = (value: unknown) => string[];

const COMPILE_OPTIONS: Options = {
  // Every problem (up to MAX_PROBLEMS), not only the first.
  allErrors: true,
  // `parentSchema` and `data` on each error: which option of an anyOf an error belongs to, and what was sent.
  verbose: true,
  // Unknown and ignored keywords throw; the other strict checks are about a schema's style, not what it means.
  strictSchema: true,
  strictNumbers: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allowMatchingProperties: true,
  // Done against the draft's meta-schema by one shared instance, which compiles the meta-schema once.
  validateSchema: false,
};

interface Draft {
  readonly create: (options: Options) => Ajv | Ajv2020;
  readonly metaSchemaId: string;
  metaSchema?: ValidateFunction;
}

const DRAFT_2020_12: Draft = {
  create: (options) => new Ajv2020(options),
  metaSchemaId: 'https://json-schema.org/draft/2020-12/schema',
};
const DRAFT_07: Draft = { create: (options) => new Ajv(options), metaSchemaId: 'http://json-schema.org/draft-07/schema' };

function draftOf(schema: Readonly<Record<string, unknown>>): Draft {
  const declared = schema['$schema'];
  if (declared === undefined || /^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/.test(String(declared))) {
    return DRAFT_2020_12;
  }
  if (/^https?:\/\/json-schema\.org\/draft-07\/schema#?$/.test(String(declared))) return DRAFT_07;
  throw new TypeError(`$schema ${quote(declared)} is not supported: use draft 2020-12 (the default) or draft-07`);
}

function metaSchemaOf(draft: Draft): ValidateFunction {
  if (draft.metaSchema === undefined) {
    const metaSchema = draft.create({}).getSchema(draft.metaSchemaId);
    if (metaSchema === undefined) throw new Error(`Ajv has no meta-schema ${draft.metaSchemaId}`);
    draft.metaSchema = metaSchema;
  }
  return draft.metaSchema;
}

/**
 * Compiles `schema`; throws a `TypeError` saying why when it cannot be checked in full.
 *
 * @param schema A JSON Schema object, e.g. a tool's `input_schema`.
 * @returns The check, to call on each input.
 *
 * @example
 * ```ts
 * const check = compileJsonSchema({ type: 'object', properties: { city: { type: 'string' } } });
 * check({ city: 42 }); // ['input.city: expected string, got integer']
 * ```
 */
export function compileJsonSchema(schema: Readonly<Record<string, unknown>>): JsonSchemaCheck {
  const draft = draftOf(schema);
  const metaSchema = metaSchemaOf(draft);
  if (!metaSchema(schema)) {
    const [error] = metaSchema.errors ?? [];
    throw new TypeError(`it is not a valid JSON Schema: ${error ? describeMetaError(error) : 'unknown error'}`);
  }
  // An instance per schema: two tools may use the same `$id`, and an instance keeps what it compiled.
  const ajv = draft.create(COMPILE_OPTIONS);
  ajv.removeKeyword('format');
  ajv.addKeyword({
    keyword: 'format',
    schemaType: 'string',
    compile(format: string, _parent, it) {
      throw new TypeError(
        `format ${quote(format)} at ${it.errSchemaPath} cannot be checked: claude-rx checks no format; ` +
          'drop it (a pattern can say the same), or give a Standard Schema such as zod that checks it',
      );
    },
  });
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    if (error instanceof TypeError) throw error;
    throw new TypeError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  return (value) =>
    validate(value) ? [] : new Problems(validate.errors ?? [], value, schema).describe().slice(0, MAX_PROBLEMS);
}

function describeMetaError(error: ErrorObject): string {
  const allowed = error.params['allowedValues'];
  const detail = Array.isArray(allowed) ? ` (${allowed.map(quote).join(', ')})` : '';
  return `#${error.instancePath} ${error.message ?? error.keyword}${detail}`;
}

/** The errors Ajv reports, in its order, as problems for the model. */
class Problems {
  constructor(
    private readonly errors: readonly ErrorObject[],
    private readonly input: unknown,
    private readonly root: unknown,
  ) {}

  /** The problems of `errors[start..end)`. Wrapping keywords (anyOf...) come after the errors of what they wrap. */
  describe(start = 0, end = this.errors.length): string[] {
    const problems: string[] = [];
    let index = end - 1;
    while (index >= start) {
      const error = this.errors[index]!;
      const wrapped = WRAPPERS.has(error.keyword) ? this.wrappedStart(error, start, index) : index;
      if (!this.shadowedByType(error, start, end)) {
        problems.push(...this.describeWrapper(error, wrapped, index).reverse());
      }
      index = wrapped - 1;
    }
    return problems.reverse();
  }

  /** What a wrapper (or a plain error, with nothing wrapped) says, given the errors it wraps, `[from, at)`. */
  private describeWrapper(error: ErrorObject, from: number, at: number): string[] {
    const path = this.pathOf(error.instancePath);
    switch (error.keyword) {
      case 'anyOf':
      case 'oneOf': {
        const passing = error.params['passingSchemas'];
        const detail = Array.isArray(passing)
          ? `it matches ${passing.length}`
          : this.optionGroups(error, from, at)
              .map(([groupStart, groupEnd]) => this.describe(groupStart, groupEnd)[0])
              .filter((problem) => problem !== undefined)
              .join('; ');
        const which = error.keyword === 'anyOf' ? 'at least one' : 'exactly one';
        return [`${path}: must match ${which} of the options${detail === '' ? '' : ` (${detail})`}`];
      }
      case 'contains':
        // The items that do not match are not the problem: that none (or too few) do is.
        return [`${path}: ${error.message ?? 'must contain a matching item'}`];
      case 'if':
      case 'propertyNames':
        // What `then`/`else` or the property name breaks says it all.
        return this.describe(from, at);
      default: {
        const problem = describeError(error);
        if (problem === undefined) return [];
        const name = (error as { propertyName?: unknown }).propertyName;
        return [typeof name === 'string' ? `${path}: property name ${quote(name)} ${problem}` : `${path}: ${problem}`];
      }
    }
  }

  /** Where the errors wrapped by `errors[at]` start: they come right before it, at its path or below. */
  private wrappedStart(wrapper: ErrorObject, start: number, at: number): number {
    const within = this.schemasWithin(wrapper);
    let index = at;
    while (index > start) {
      const error = this.errors[index - 1]!;
      const sameLevel = error.parentSchema === wrapper.parentSchema && error.instancePath === wrapper.instancePath;
      const below = error.instancePath === wrapper.instancePath || error.instancePath.startsWith(`${wrapper.instancePath}/`);
      const inside =
        error.schemaPath.startsWith(`${wrapper.schemaPath}/`) ||
        (typeof error.parentSchema === 'object' && within.some((schemas) => schemas.has(error.parentSchema!)));
      if (sameLevel || !below || !inside) break;
      index--;
    }
    return index;
  }

  /** The errors of `[from, at)` split by the option of `wrapper` (an anyOf or a oneOf) they belong to. */
  private optionGroups(wrapper: ErrorObject, from: number, at: number): [number, number][] {
    const within = this.schemasWithin(wrapper);
    const groups: [number, number][] = [];
    let option = 0;
    for (let index = from; index < at; index++) {
      const error = this.errors[index]!;
      const belongs = (candidate: number) =>
        error.schemaPath === `${wrapper.schemaPath}/${candidate}` ||
        error.schemaPath.startsWith(`${wrapper.schemaPath}/${candidate}/`) ||
        (typeof error.parentSchema === 'object' && within[candidate]!.has(error.parentSchema));
      while (option < within.length - 1 && !belongs(option)) option++;
      const last = groups.at(-1);
      if (last && groups.length - 1 === option) last[1] = index + 1;
      else {
        while (groups.length < option) groups.push([index, index]);
        groups.push([index, index + 1]);
      }
    }
    return groups;
  }

  /** For each subschema a wrapper applies (each option of an anyOf...), every schema it reaches, `$ref`s followed. */
  private schemasWithin(wrapper: ErrorObject): Set<object>[] {
    const options: unknown[] = Array.isArray(wrapper.schema) ? wrapper.schema : [wrapper.schema];
    return options.map((option) => {
      const reached = new Set<object>();
      const pending = [option];
      while (pending.length > 0) {
        const node = pending.pop();
        if (typeof node !== 'object' || node === null || reached.has(node)) continue;
        reached.add(node);
        const ref = (node as { $ref?: unknown }).$ref;
        if (typeof ref === 'string') pending.push(resolvePointer(this.root, ref));
        pending.push(...Object.values(node));
      }
      return reached;
    });
  }

  /** Whether a `type` error of the same schema at the same path makes `error` a repetition of it. */
  private shadowedByType(error: ErrorObject, start: number, end: number): boolean {
    if (error.keyword === 'type') return false;
    for (let index = start; index < end; index++) {
      const other = this.errors[index]!;
      if (
        other.keyword === 'type' &&
        other.parentSchema === error.parentSchema &&
        other.instancePath === error.instancePath
      ) {
        return true;
      }
    }
    return false;
  }

  /** `input.cities[1]` for the JSON pointer `/cities/1`: an array's index in brackets, an odd key quoted. */
  private pathOf(pointer: string): string {
    let path = 'input';
    let value = this.input;
    for (const key of pointer.split('/').slice(1).map(unescapePointer)) {
      path += Array.isArray(value)
        ? `[${key}]`
        : /^[A-Za-z_$][\w$]*$/.test(key)
          ? `.${key}`
          : `[${JSON.stringify(key)}]`;
      value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
    }
    return path;
  }
}

/** Keywords whose errors follow those of the subschemas they apply, which they explain or summarise. */
const WRAPPERS = new Set(['anyOf', 'oneOf', 'contains', 'if', 'propertyNames']);

/** What an error says was expected, in the words of the messages before Ajv; Ajv's own message otherwise. */
function describeError(error: ErrorObject): string | undefined {
  const { params, data } = error;
  const limit = params['limit'];
  switch (error.keyword) {
    case 'type': {
      const types = params['type'];
      return `expected ${(Array.isArray(types) ? types : String(types).split(',')).join(' or ')}, got ${jsonTypeOf(data)}`;
    }
    case 'enum':
      return `must be one of ${(params['allowedValues'] as unknown[]).map(quote).join(', ')}, got ${quote(data)}`;
    case 'const':
      return `must be ${quote(params['allowedValue'])}, got ${quote(data)}`;
    case 'required':
      return `missing required property ${JSON.stringify(params['missingProperty'])}`;
    case 'dependentRequired':
    case 'dependencies':
      return (
        `missing property ${JSON.stringify(params['missingProperty'])}, ` +
        `required when ${JSON.stringify(params['property'])} is present`
      );
    case 'additionalProperties':
      return `unexpected property ${JSON.stringify(params['additionalProperty'])}`;
    case 'unevaluatedProperties':
      return `unexpected property ${JSON.stringify(params['unevaluatedProperty'])}`;
    case 'minLength':
    case 'maxLength':
      return `must be at ${error.keyword === 'minLength' ? 'least' : 'most'} ${limit} characters long, got ${[...String(data)].length}`;
    case 'pattern':
      return `must match the pattern ${quote(params['pattern'])}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${params['comparison']} ${limit}, got ${data}`;
    case 'multipleOf':
      return `must be a multiple of ${params['multipleOf']}, got ${data}`;
    case 'minItems':
    case 'maxItems':
    case 'items':
    case 'additionalItems':
    case 'unevaluatedItems':
      return (
        `must have at ${error.keyword === 'minItems' ? 'least' : 'most'} ${limit} items, ` +
        `got ${(data as unknown[]).length}`
      );
    case 'minProperties':
    case 'maxProperties':
      return (
        `must have at ${error.keyword === 'minProperties' ? 'least' : 'most'} ${limit} properties, ` +
        `got ${Object.keys(data as object).length}`
      );
    case 'uniqueItems':
      return `must not have duplicate items (items ${params['j']} and ${params['i']} are equal)`;
    case 'false schema':
      return 'no value is allowed here';
    default:
      return error.message;
  }
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** A value as JSON, cut short when long: the model needs to recognise it, not to read it all. */
function quote(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

function unescapePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** The subschema a local `$ref` (`#/$defs/city`) points to in `root`; `undefined` for any other reference. */
function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node = root;
  for (const segment of ref.slice(1).split('/').slice(1)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[unescapePointer(decodeURIComponent(segment))];
  }
  return node;
}
