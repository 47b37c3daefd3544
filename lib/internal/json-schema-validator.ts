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

/** An Ajv error as `verbose` reports it, its `params` typed for what they are: unknown until looked at. */
type AjvError = ErrorObject<string, Record<string, unknown>, unknown>;

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
const DRAFT_07: Draft = {
  create: (options) => new Ajv(options),
  metaSchemaId: 'http://json-schema.org/draft-07/schema',
};

function draftOf(schema: Readonly<Record<string, unknown>>): Draft {
  const declared = schema['$schema'];
  if (declared === undefined) return DRAFT_2020_12;
  if (typeof declared === 'string') {
    if (/^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/.test(declared)) return DRAFT_2020_12;
    if (/^https?:\/\/json-schema\.org\/draft-07\/schema#?$/.test(declared)) return DRAFT_07;
  }
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
  // Keyed by the schema's text, not its object: a schema changed in place after a first call is compiled anew.
  const key = JSON.stringify(schema);
  const known = compiled.get(key);
  if (known) return known;
  const check = compileNow(schema);
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, check);
  return check;
}

/**
 * How many compiled schemas are kept. Why keep any: `runTools` prepares its tools at every call (a Nest route calls it
 * per request), and compiling a schema costs about a millisecond; the same tools come back call after call.
 */
const MAX_COMPILED = 256;
const compiled = new Map<string, JsonSchemaCheck>();

function compileNow(schema: Readonly<Record<string, unknown>>): JsonSchemaCheck {
  const draft = draftOf(schema);
  const metaSchema = metaSchemaOf(draft);
  if (!metaSchema(schema)) {
    const [error] = (metaSchema.errors ?? []) as AjvError[];
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
        `format ${quote(format)} at ${it.errSchemaPath}: claude-rx checks no format; ` +
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
  // An async schema's check answers with a Promise, which would pass any input.
  if ((validate as { $async?: unknown }).$async === true) throw new TypeError('$async schemas are not supported');
  return (value) => {
    if (validate(value)) return [];
    const errors = (validate.errors ?? []) as AjvError[];
    // Verbose errors hold the input: not kept by the tool once its problems are told.
    validate.errors = null;
    return new Problems(errors, value, schema).describe().slice(0, MAX_PROBLEMS);
  };
}

function describeMetaError(error: AjvError): string {
  const allowed = error.params['allowedValues'];
  const detail = Array.isArray(allowed) ? ` (${allowed.map(quote).join(', ')})` : '';
  return `#${error.instancePath} ${error.message ?? error.keyword}${detail}`;
}

/** The errors Ajv reports, in its order, as problems for the model. */
class Problems {
  /** The paths at which each schema's `type` failed: its other keywords would only repeat the mismatch. */
  private readonly typeFailures = new Map<unknown, Set<string>>();

  constructor(
    private readonly errors: readonly AjvError[],
    private readonly input: unknown,
    private readonly root: unknown,
  ) {
    for (const error of errors) {
      if (error.keyword !== 'type') continue;
      const paths = this.typeFailures.get(error.parentSchema) ?? new Set();
      this.typeFailures.set(error.parentSchema, paths.add(error.instancePath));
    }
  }

  /** The problems of `errors[start..end)`. A wrapper (an anyOf...) comes after the errors of what it wraps. */
  describe(start = 0, end = this.errors.length): string[] {
    const problems: string[] = [];
    let index = end - 1;
    while (index >= start) {
      const error = this.errors[index]!;
      const wrapped = WRAPPERS.has(error.keyword) ? this.wrappedStart(error, start, index) : index;
      const shadowed =
        error.keyword !== 'type' && this.typeFailures.get(error.parentSchema)?.has(error.instancePath) === true;
      if (!shadowed) problems.push(...this.describeOne(error, wrapped, index).reverse());
      index = wrapped - 1;
    }
    return problems.reverse();
  }

  /** What `error` says, given the errors it wraps, `[from, at)`. */
  private describeOne(error: AjvError, from: number, at: number): string[] {
    const path = this.pathOf(error.instancePath);
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf') {
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
    const problem = describeError(error);
    if (problem === undefined) return [];
    const name = (error as { propertyName?: unknown }).propertyName;
    return [typeof name === 'string' ? `${path}: property name ${quote(name)} ${problem}` : `${path}: ${problem}`];
  }

  /** Where the errors wrapped by `errors[at]` start: right before it, at its path or below, in what it applies. */
  private wrappedStart(wrapper: AjvError, start: number, at: number): number {
    const within = this.schemasWithin(wrapper);
    let index = at;
    while (index > start) {
      const error = this.errors[index - 1]!;
      const sibling = error.parentSchema === wrapper.parentSchema && error.instancePath === wrapper.instancePath;
      const below =
        error.instancePath === wrapper.instancePath || error.instancePath.startsWith(`${wrapper.instancePath}/`);
      const inside =
        error.schemaPath.startsWith(`${wrapper.schemaPath}/`) ||
        within.some((schemas) => schemas.has(error.parentSchema));
      if (sibling || !below || !inside) break;
      index--;
    }
    return index;
  }

  /** The errors of `[from, at)`, each a range, split by the option of `wrapper` (an anyOf, a oneOf) they are from. */
  private optionGroups(wrapper: AjvError, from: number, at: number): [number, number][] {
    const within = this.schemasWithin(wrapper);
    const groups: [number, number][] = [];
    let option = 0;
    for (let index = from; index < at; index++) {
      const error = this.errors[index]!;
      // The schema path names the option, unless the error comes from behind a $ref: then, the first option from
      // the current one on that reaches its schema (the options' errors come in their order).
      const named = /^\/(\d+)(\/|$)/.exec(error.schemaPath.slice(wrapper.schemaPath.length));
      if (named && error.schemaPath.startsWith(wrapper.schemaPath)) option = Number(named[1]);
      else {
        const reaching = within.findIndex(
          (schemas, candidate) => candidate >= option && schemas.has(error.parentSchema),
        );
        if (reaching !== -1) option = reaching;
      }
      const group = groups[option];
      if (group) group[1] = index + 1;
      else groups[option] = [index, index + 1];
    }
    return groups.filter((group) => group !== undefined);
  }

  /** For each subschema a wrapper applies (each option of an anyOf...), every schema it reaches, `$ref`s followed. */
  private schemasWithin(wrapper: AjvError): Set<unknown>[] {
    const options: unknown[] = Array.isArray(wrapper.schema) ? wrapper.schema : [wrapper.schema];
    return options.map((option) => {
      const reached = new Set<unknown>();
      const pending: unknown[] = [option];
      while (pending.length > 0) {
        const node = pending.pop();
        if (typeof node !== 'object' || node === null || reached.has(node)) continue;
        reached.add(node);
        const ref = (node as { $ref?: unknown }).$ref;
        if (typeof ref === 'string') pending.push(resolvePointer(this.root, ref));
        pending.push(...(Object.values(node) as unknown[]));
      }
      return reached;
    });
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

/**
 * Keywords whose error follows the errors of the subschemas they apply, which it sums up: for `contains`, the items
 * that do not match are not the problem, that too few do is.
 */
const WRAPPERS = new Set(['anyOf', 'oneOf', 'contains']);

/** What an error says was expected, in the words of the messages before Ajv; Ajv's own message otherwise. */
function describeError(error: AjvError): string | undefined {
  const { params, data } = error;
  const limit = String(params['limit']);
  switch (error.keyword) {
    case 'type': {
      const declared = params['type'];
      const types = Array.isArray(declared) ? declared.map(String) : String(declared).split(',');
      // OpenAPI's `nullable: true`, which Ajv knows, lets null in too.
      if (error.parentSchema?.['nullable'] === true && !types.includes('null')) types.push('null');
      return `expected ${types.join(' or ')}, got ${jsonTypeOf(data)}`;
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
      return `must be ${String(params['comparison'])} ${limit}, got ${quote(data)}`;
    case 'multipleOf':
      return `must be a multiple of ${String(params['multipleOf'])}, got ${quote(data)}`;
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
      return `must not have duplicate items (items ${String(params['j'])} and ${String(params['i'])} are equal)`;
    case 'false schema':
      return 'no value is allowed here';
    case 'if':
    case 'propertyNames':
      // The errors of `then`/`else`, or of the property name, come before and say it all.
      return undefined;
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
