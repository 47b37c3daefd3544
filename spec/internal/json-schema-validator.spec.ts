import { jest } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { z } from 'zod';
import { compileJsonSchema } from '../../lib/internal/json-schema-validator.js';
import { prepareSchema } from '../../lib/internal/tool-schema.js';

const problems = (schema: Record<string, unknown>, value: unknown) => compileJsonSchema(schema)(value);

/** What `fn` throws, to check its class and its whole message. */
function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('compileJsonSchema', () => {
  const weather = {
    type: 'object',
    properties: {
      city: { type: 'string', minLength: 2, maxLength: 20 },
      unit: { enum: ['C', 'F'] },
      days: { type: 'integer', minimum: 1, maximum: 7 },
      tags: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 2 },
      location: {
        type: 'object',
        properties: { lat: { type: 'number' }, lon: { type: 'number' } },
        required: ['lat', 'lon'],
      },
      note: { type: ['string', 'null'] },
    },
    required: ['city'],
    additionalProperties: false,
  };

  it('accepts a conforming value', () => {
    const check = compileJsonSchema(weather);
    expect(
      check({ city: 'Paris', unit: 'C', days: 3, tags: ['a'], location: { lat: 48.8, lon: 2 }, note: null }),
    ).toEqual([]);
    expect(check({ city: 'Oslo', note: 'windy' })).toEqual([]);
  });

  it('names the path and what was expected, for each kind of problem', () => {
    expect(
      problems(weather, {
        city: 'P',
        unit: 'K',
        days: 2.5,
        tags: [1, 'b', 'c'],
        location: { lat: '48' },
        note: 3,
        extra: true,
      }),
    ).toEqual([
      'input: unexpected property "extra"',
      'input.city: must be at least 2 characters long, got 1',
      'input.unit: must be one of "C", "F", got "K"',
      'input.days: expected integer, got number',
      'input.tags: must have at most 2 items, got 3',
      'input.tags[0]: expected string, got integer',
      'input.location: missing required property "lon"',
      'input.location.lat: expected number, got string',
      'input.note: expected string or null, got integer',
    ]);
  });

  it('reports a missing required property and a wrong root type, without repeating the mismatch', () => {
    expect(problems(weather, {})).toEqual(['input: missing required property "city"']);
    expect(problems(weather, [])).toEqual(['input: expected object, got array']);
    expect(problems(weather, null)).toEqual(['input: expected object, got null']);
    expect(problems({ type: 'string', enum: ['a', 'b'] }, 3)).toEqual(['input: expected string, got integer']);
  });

  it('accepts an integer as a number, and checks number bounds', () => {
    const schema = { type: 'number', minimum: 0, exclusiveMaximum: 10 };
    expect(problems(schema, 3)).toEqual([]);
    expect(problems(schema, -1)).toEqual(['input: must be >= 0, got -1']);
    expect(problems(schema, 10)).toEqual(['input: must be < 10, got 10']);
    expect(problems({ type: 'integer', maximum: 5 }, 6)).toEqual(['input: must be <= 5, got 6']);
    expect(problems({ type: 'number', exclusiveMinimum: 0 }, 0)).toEqual(['input: must be > 0, got 0']);
    expect(problems({ type: 'number', multipleOf: 0.5 }, 0.3)).toEqual(['input: must be a multiple of 0.5, got 0.3']);
  });

  it('checks const, pattern and booleans', () => {
    expect(problems({ const: 'v1' }, 'v2')).toEqual(['input: must be "v1", got "v2"']);
    expect(problems({ const: { a: [1] } }, { a: [1] })).toEqual([]);
    expect(problems({ type: 'string', pattern: '^[A-Z]{3}$' }, 'EUR')).toEqual([]);
    expect(problems({ type: 'string', pattern: '^[A-Z]{3}$' }, 'eur')).toEqual([
      'input: must match the pattern "^[A-Z]{3}$"',
    ]);
    expect(problems({ type: 'boolean' }, 'true')).toEqual(['input: expected boolean, got string']);
  });

  it('checks additionalProperties given as a schema, and quotes keys that are not identifiers', () => {
    const schema = { type: 'object', additionalProperties: { type: 'number' } };
    expect(problems(schema, { a: 1, 'b-c': 'x', 'd/e': 'y' })).toEqual([
      'input["b-c"]: expected number, got string',
      'input["d/e"]: expected number, got string',
    ]);
  });

  it('checks anyOf, oneOf and allOf, with the first problem of each option', () => {
    const anyOf = { anyOf: [{ type: 'string' }, { type: 'integer' }] };
    expect(problems(anyOf, 3)).toEqual([]);
    expect(problems(anyOf, true)).toEqual([
      'input: must match at least one of the options (input: expected string, got boolean; input: expected integer, got boolean)',
    ]);
    const oneOf = { oneOf: [{ type: 'number' }, { type: 'integer' }] };
    expect(problems(oneOf, 1.5)).toEqual([]);
    expect(problems(oneOf, 1)).toEqual(['input: must match exactly one of the options (it matches 2)']);
    expect(problems({ allOf: [{ minLength: 2 }, { maxLength: 3 }] }, 'abcd')).toEqual([
      'input: must be at most 3 characters long, got 4',
    ]);
  });

  it('keeps the problems of an option behind a $ref with that option, and nested options apart', () => {
    const schema = {
      type: 'object',
      $defs: { city: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
      properties: {
        place: { anyOf: [{ $ref: '#/$defs/city' }, { type: 'string', minLength: 3 }, { type: 'null' }] },
        size: { oneOf: [{ anyOf: [{ const: 'S' }, { const: 'M' }] }, { type: 'integer' }] },
      },
    };
    expect(problems(schema, { place: { name: 1 }, size: 'L' })).toEqual([
      'input.place: must match at least one of the options (input.place.name: expected string, got integer; ' +
        'input.place: expected string, got object; input.place: expected null, got object)',
      'input.size: must match exactly one of the options (input.size: must match at least one of the options ' +
        '(input.size: must be "S", got "L"; input.size: must be "M", got "L"); input.size: expected integer, got string)',
    ]);
  });

  it('enforces what a $ref points to (in $defs, or definitions as draft-07 writes it), recursively', () => {
    const tree = {
      type: 'object',
      $defs: {
        node: {
          type: 'object',
          properties: { label: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/node' } } },
          required: ['label'],
        },
      },
      properties: { root: { $ref: '#/$defs/node' } },
    };
    expect(problems(tree, { root: { label: 'a', children: [{ label: 'b' }, { label: 2 }] } })).toEqual([
      'input.root.children[1].label: expected string, got integer',
    ]);
    const definitions = {
      type: 'object',
      definitions: { code: { type: 'string', pattern: '^[A-Z]{3}$' } },
      properties: { currency: { $ref: '#/definitions/code' } },
    };
    expect(problems(definitions, { currency: 'EUR' })).toEqual([]);
    expect(problems(definitions, { currency: 'euro' })).toEqual([
      'input.currency: must match the pattern "^[A-Z]{3}$"',
    ]);
  });

  it('checks a schema that says it is draft-07 as draft-07 (items as a list)', () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { pair: { type: 'array', items: [{ type: 'string' }, { type: 'number' }], additionalItems: false } },
    };
    expect(problems(schema, { pair: ['a', 1] })).toEqual([]);
    expect(problems(schema, { pair: [1, 1, 2] })).toEqual([
      'input.pair: must have at most 2 items, got 3',
      'input.pair[0]: expected string, got integer',
    ]);
  });

  it('checks the other keywords of 2020-12: tuples, property names, dependencies, contains, if/then', () => {
    const schema = {
      type: 'object',
      propertyNames: { pattern: '^[a-z]+$' },
      properties: {
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false },
        list: { type: 'array', contains: { type: 'string' }, uniqueItems: true },
        card: { type: 'object', dependentRequired: { number: ['expiry'] } },
      },
      if: { properties: { pair: { maxItems: 0 } } },
      then: { required: ['list'] },
    };
    expect(problems(schema, { pair: ['a', 1, 2], list: [1, 1], card: { number: 4 }, Bad: 1 })).toEqual([
      'input: property name "Bad" must match the pattern "^[a-z]+$"',
      'input.pair: must have at most 2 items, got 3',
      'input.list: must contain at least 1 valid item(s)',
      'input.list: must not have duplicate items (items 0 and 1 are equal)',
      'input.card: missing property "expiry", required when "number" is present',
    ]);
    expect(problems(schema, { pair: [] })).toEqual(['input: missing required property "list"']);
  });

  it('takes a schema that is true, empty or false where a value may go', () => {
    expect(problems({}, 42)).toEqual([]);
    expect(problems({ type: 'object', properties: { a: true } }, { a: 1 })).toEqual([]);
    expect(problems({ type: 'object', properties: { a: false } }, { a: 1 })).toEqual([
      'input.a: no value is allowed here',
    ]);
  });

  it("judges OpenAPI's nullable (which Ajv knows) as OpenAPI means it", () => {
    const schema = { type: 'object', properties: { note: { type: 'string', nullable: true } } };
    expect(problems(schema, { note: null })).toEqual([]);
    expect(problems(schema, { note: 1 })).toEqual(['input.note: expected string or null, got integer']);
  });

  it('counts characters, not UTF-16 units, for string lengths', () => {
    expect(problems({ type: 'string', maxLength: 2 }, '😀😀')).toEqual([]);
  });

  it('reports at most 10 problems', () => {
    const schema = { type: 'array', items: { type: 'string' } };
    expect(
      problems(
        schema,
        Array.from({ length: 20 }, (_, i) => i),
      ),
    ).toHaveLength(10);
  });

  it('accepts the annotations a tool schema carries', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'https://example.com/weather',
      $comment: 'for the weather tool',
      title: 'Weather',
      description: 'The weather in a city.',
      type: 'object',
      properties: {
        city: {
          type: 'string',
          title: 'City',
          description: 'Its name.',
          examples: ['Paris'],
          default: 'Paris',
          deprecated: false,
          readOnly: false,
          writeOnly: false,
        },
        photo: { type: 'string', contentEncoding: 'base64', contentMediaType: 'image/png' },
      },
      $defs: {},
      definitions: {},
      additionalProperties: false,
    };
    expect(problems(schema, { city: 'Oslo' })).toEqual([]);
  });

  it("accepts zod 4's JSON Schema (2020-12 and draft-07), .meta() annotations included", () => {
    const city = z
      .object({ name: z.string().min(1).describe('Its name.'), country: z.string().length(2) })
      .meta({ id: 'City', title: 'City', examples: [{ name: 'Paris', country: 'FR' }], deprecated: false });
    const node: z.ZodType<{ label: string; children?: unknown[] }> = z.object({
      label: z.string(),
      get children() {
        return z.array(node).optional();
      },
    });
    const schema = z.object({
      city,
      days: z.int().min(1).max(7).optional(),
      unit: z.enum(['C', 'F']).default('C'),
      note: z.string().nullable(),
      kind: z.literal('weather'),
      shape: z.discriminatedUnion('t', [
        z.object({ t: z.literal('a'), a: z.string() }),
        z.object({ t: z.literal('b'), b: z.number() }),
      ]),
      pair: z.tuple([z.string(), z.number()]),
      scores: z.record(z.string(), z.number()),
      code: z.string().regex(/^[A-Z]{3}$/),
      tree: node,
    });
    const input = {
      city: { name: 'Paris', country: 'FR' },
      unit: 'C',
      note: null,
      kind: 'weather',
      shape: { t: 'a', a: 'x' },
      pair: ['a', 1],
      scores: { a: 1 },
      code: 'EUR',
      tree: { label: 'root', children: [{ label: 'leaf' }] },
    };
    for (const jsonSchema of [
      z.toJSONSchema(schema),
      z.toJSONSchema(schema, { io: 'input' }),
      z.toJSONSchema(schema, { target: 'draft-7' }),
    ]) {
      const check = compileJsonSchema(jsonSchema);
      expect(check(input)).toEqual([]);
      expect(check({ ...input, city: { name: '', country: 'FRA' }, tree: { children: [{ label: 1 }] } })).toEqual([
        'input.city.name: must be at least 1 characters long, got 0',
        'input.city.country: must be at most 2 characters long, got 3',
        'input.tree: missing required property "label"',
        'input.tree.children[0].label: expected string, got integer',
      ]);
    }
  });

  describe('refuses at compilation what it cannot check', () => {
    const refusal = (schema: Record<string, unknown>) => () => compileJsonSchema(schema);

    it('a keyword it does not know', () => {
      const error = errorOf(refusal({ type: 'object', properties: { a: { type: 'string', example: 'x' } } }));
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toHaveProperty('message', 'strict mode: unknown keyword: "example"');
      expect(refusal({ type: 'object', 'x-internal': true })).toThrow(/unknown keyword: "x-internal"/);
      // What zod's .meta() adds beyond the annotations of JSON Schema.
      expect(refusal(z.toJSONSchema(z.object({ a: z.string() }).meta({ owner: 'me' })))).toThrow(
        /unknown keyword: "owner"/,
      );
      expect(refusal({ type: 'object', then: { required: ['a'] } })).toThrow(/"then" without "if" is ignored/);
    });

    it('a format: none is checked', () => {
      const error = errorOf(refusal({ type: 'object', properties: { email: { type: 'string', format: 'email' } } }));
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toHaveProperty(
        'message',
        'format "email" at #/properties/email: claude-rx checks no format; drop it (a pattern ' +
          'can say the same), or give a Standard Schema such as zod that checks it',
      );
      expect(refusal(z.toJSONSchema(z.object({ at: z.iso.datetime() })))).toThrow(
        /format "date-time" at #\/properties\/at/,
      );
    });

    it('a $ref that does not resolve, a pattern JavaScript cannot compile, $async, a $schema of another draft', () => {
      expect(refusal({ type: 'object', properties: { a: { $ref: 'https://example.com/a.json' } } })).toThrow(
        /can't resolve reference https:\/\/example\.com\/a\.json/,
      );
      expect(refusal({ type: 'object', properties: { a: { $ref: '#/$defs/missing' } } })).toThrow(
        /can't resolve reference #\/\$defs\/missing/,
      );
      expect(refusal({ type: 'object', properties: { a: { type: 'string', pattern: '(?<x' } } })).toThrow(
        /Invalid regular expression/,
      );
      expect(refusal({ $async: true, type: 'object' })).toThrow(new TypeError('$async schemas are not supported'));
      expect(refusal({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' })).toThrow(
        new TypeError(
          '$schema "http://json-schema.org/draft-04/schema#" is not supported: use draft 2020-12 (the default) or draft-07',
        ),
      );
    });

    it('a schema its draft does not allow', () => {
      expect(refusal({ type: 'object', properties: { a: { type: 'strin' } } })).toThrow(
        new TypeError(
          'it is not a valid JSON Schema: #/properties/a/type must be equal to one of the allowed values ' +
            '("array", "boolean", "integer", "null", "number", "object", "string")',
        ),
      );
      expect(refusal({ type: 'object', properties: { a: { minLength: 'two' } } })).toThrow(
        /#\/properties\/a\/minLength must be integer/,
      );
      // A tuple as draft-07 writes it, in a schema that does not say it is draft-07.
      expect(refusal({ type: 'object', properties: { a: { items: [{ type: 'string' }] } } })).toThrow(
        /#\/properties\/a\/items must be object,boolean/,
      );
    });
  });
});

describe('prepareSchema (a JSON schema)', () => {
  afterEach(() => jest.restoreAllMocks());

  it('compiles the schema once, when the tool is prepared, not at each check', async () => {
    const compile = jest.spyOn(Ajv2020.prototype, 'compile');
    // A schema of its own: one compiled by another test is kept, and would not be compiled again.
    const prepared = prepareSchema(
      'get_weather',
      { type: 'object', description: 'once', properties: { city: { type: 'string' } } },
      undefined,
    );
    expect(compile).toHaveBeenCalledTimes(1);

    expect(await prepared.check({ city: 'Paris' })).toEqual({ ok: true, value: { city: 'Paris' } });
    expect(await prepared.check({ city: 1 })).toEqual({
      ok: false,
      problems: ['input.city: expected string, got integer'],
    });
    expect(compile).toHaveBeenCalledTimes(1);
  });

  it('keeps a compiled schema for the next preparation of the same schema (runTools is called per request)', () => {
    const compile = jest.spyOn(Ajv2020.prototype, 'compile');
    const schema: Record<string, unknown> = {
      type: 'object',
      description: 'kept',
      properties: { n: { type: 'integer' } },
    };
    prepareSchema('count', schema, undefined);
    prepareSchema('count', { ...schema }, undefined);
    expect(compile).toHaveBeenCalledTimes(1);
    // Changed in place: what is checked is the schema as it is now.
    schema['required'] = ['n'];
    const prepared = prepareSchema('count', schema, undefined);
    expect(compile).toHaveBeenCalledTimes(2);
    expect(prepared.check({})).toEqual({ ok: false, problems: [expect.stringContaining('"n"')] });
  });

  it('throws a TypeError naming the tool and what cannot be checked', () => {
    const schema = { type: 'object', properties: { city: { type: 'string', example: 'Paris' } } };
    const error = errorOf(() => prepareSchema('get_weather', schema, undefined));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toHaveProperty(
      'message',
      'runTools: tool "get_weather": its inputSchema cannot be checked: strict mode: unknown keyword: "example"',
    );
    expect(() => prepareSchema('get_weather', schema, undefined, 'input_schema')).toThrow(
      /^runTools: tool "get_weather": its input_schema cannot be checked/,
    );
  });
});
