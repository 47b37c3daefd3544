/**
 * A small JSON Schema validator for what tool input schemas use: `type` (one or a list; `integer` included), `enum`,
 * `const`, `properties`, `required`, `additionalProperties` (`false` or a schema), `items`, `minItems`/`maxItems`,
 * `minLength`/`maxLength`, `pattern`, `minimum`/`maximum`, `exclusiveMinimum`/`exclusiveMaximum` (numbers),
 * `anyOf`, `oneOf` and `allOf`. Every other keyword (`$ref`, `format`, `description`...) is ignored, so an input it
 * cannot judge passes and the tool sees it.
 *
 * The messages are for the model, which reads them in an `is_error` tool result and tries again: each names the
 * path (`input.cities[1]`) and what was expected.
 */

/** At most this many problems are reported: the first ones are what the model needs to fix. */
const MAX_PROBLEMS = 10;

type Schema = Readonly<Record<string, unknown>>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: unknown): boolean {
  const actual = jsonTypeOf(value);
  return type === actual || (type === 'number' && actual === 'integer');
}

function show(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * The problems of `value` against `schema`, as messages such as `input.city: expected string, got number`; empty
 * when it conforms.
 *
 * @param schema A JSON Schema object (the subset above).
 * @param value The value to check, e.g. a tool's parsed input.
 * @param root The name of the value in the messages. @defaultValue 'input'
 */
export function jsonSchemaProblems(schema: unknown, value: unknown, root = 'input'): string[] {
  const problems: string[] = [];
  check(schema, value, root, problems);
  return problems.slice(0, MAX_PROBLEMS);
}

function check(schema: unknown, value: unknown, path: string, problems: string[]): void {
  if (schema === false) {
    problems.push(`${path}: no value is allowed here`);
    return;
  }
  if (!isSchema(schema) || problems.length >= MAX_PROBLEMS) return;

  const type = schema['type'];
  if (type !== undefined) {
    const types = Array.isArray(type) ? (type as unknown[]) : [type];
    if (!types.some((t) => matchesType(value, t))) {
      problems.push(`${path}: expected ${types.map(String).join(' or ')}, got ${jsonTypeOf(value)}`);
      // Other keywords would only repeat the mismatch.
      return;
    }
  }
  if (Array.isArray(schema['enum'])) {
    const allowed = schema['enum'] as unknown[];
    if (!allowed.some((option) => sameJson(option, value))) {
      problems.push(`${path}: must be one of ${allowed.map(show).join(', ')}, got ${show(value)}`);
    }
  }
  if ('const' in schema && !sameJson(schema['const'], value)) {
    problems.push(`${path}: must be ${show(schema['const'])}, got ${show(value)}`);
  }

  if (typeof value === 'string') checkString(schema, value, path, problems);
  else if (typeof value === 'number') checkNumber(schema, value, path, problems);
  else if (Array.isArray(value)) checkArray(schema, value, path, problems);
  else if (isSchema(value)) checkObject(schema, value, path, problems);

  checkCombinators(schema, value, path, problems);
}

function checkString(schema: Schema, value: string, path: string, problems: string[]): void {
  const length = [...value].length;
  const { minLength, maxLength, pattern } = schema;
  if (typeof minLength === 'number' && length < minLength) {
    problems.push(`${path}: must be at least ${minLength} characters long, got ${length}`);
  }
  if (typeof maxLength === 'number' && length > maxLength) {
    problems.push(`${path}: must be at most ${maxLength} characters long, got ${length}`);
  }
  if (typeof pattern === 'string') {
    let regex: RegExp | undefined;
    try {
      regex = new RegExp(pattern, 'u');
    } catch {
      // A pattern JavaScript cannot compile is not the model's fault: it is skipped.
    }
    if (regex && !regex.test(value)) problems.push(`${path}: must match the pattern ${show(pattern)}`);
  }
}

function checkNumber(schema: Schema, value: number, path: string, problems: string[]): void {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema;
  if (typeof minimum === 'number' && value < minimum) problems.push(`${path}: must be >= ${minimum}, got ${value}`);
  if (typeof maximum === 'number' && value > maximum) problems.push(`${path}: must be <= ${maximum}, got ${value}`);
  if (typeof exclusiveMinimum === 'number' && value <= exclusiveMinimum) {
    problems.push(`${path}: must be > ${exclusiveMinimum}, got ${value}`);
  }
  if (typeof exclusiveMaximum === 'number' && value >= exclusiveMaximum) {
    problems.push(`${path}: must be < ${exclusiveMaximum}, got ${value}`);
  }
}

function checkArray(schema: Schema, value: readonly unknown[], path: string, problems: string[]): void {
  const { minItems, maxItems, items } = schema;
  if (typeof minItems === 'number' && value.length < minItems) {
    problems.push(`${path}: must have at least ${minItems} items, got ${value.length}`);
  }
  if (typeof maxItems === 'number' && value.length > maxItems) {
    problems.push(`${path}: must have at most ${maxItems} items, got ${value.length}`);
  }
  if (items !== undefined && !Array.isArray(items)) {
    value.forEach((item, index) => check(items, item, `${path}[${index}]`, problems));
  }
}

function checkObject(schema: Schema, value: Schema, path: string, problems: string[]): void {
  const properties = isSchema(schema['properties']) ? schema['properties'] : {};
  if (Array.isArray(schema['required'])) {
    for (const name of schema['required'] as unknown[]) {
      if (typeof name === 'string' && !Object.hasOwn(value, name)) {
        problems.push(`${path}: missing required property ${JSON.stringify(name)}`);
      }
    }
  }
  const additional = schema['additionalProperties'];
  for (const [key, child] of Object.entries(value)) {
    if (Object.hasOwn(properties, key)) check(properties[key], child, childPath(path, key), problems);
    else if (additional === false) problems.push(`${path}: unexpected property ${JSON.stringify(key)}`);
    else if (isSchema(additional)) check(additional, child, childPath(path, key), problems);
  }
}

function checkCombinators(schema: Schema, value: unknown, path: string, problems: string[]): void {
  if (Array.isArray(schema['allOf'])) {
    for (const part of schema['allOf'] as unknown[]) check(part, value, path, problems);
  }
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const options = schema[keyword];
    if (!Array.isArray(options)) continue;
    const results = (options as unknown[]).map((option) => jsonSchemaProblems(option, value, path));
    const passing = results.filter((result) => result.length === 0).length;
    if (keyword === 'anyOf' ? passing === 0 : passing !== 1) {
      const detail = passing > 1 ? `it matches ${passing}` : results.map((result) => result[0]).join('; ');
      problems.push(
        `${path}: must match ${keyword === 'anyOf' ? 'at least one' : 'exactly one'} of the options (${detail})`,
      );
    }
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && sameJson((a as Schema)[key], (b as Schema)[key]));
}
