import { jsonSchemaProblems } from '../../lib/internal/json-schema.js';

describe('jsonSchemaProblems', () => {
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
    expect(
      jsonSchemaProblems(weather, {
        city: 'Paris',
        unit: 'C',
        days: 3,
        tags: ['a'],
        location: { lat: 48.8, lon: 2 },
        note: null,
      }),
    ).toEqual([]);
    expect(jsonSchemaProblems(weather, { city: 'Oslo', note: 'windy' })).toEqual([]);
  });

  it('names the path and what was expected, for each kind of problem', () => {
    expect(
      jsonSchemaProblems(weather, {
        city: 'P',
        unit: 'K',
        days: 2.5,
        tags: [1, 'b', 'c'],
        location: { lat: '48' },
        note: 3,
        extra: true,
      }),
    ).toEqual([
      'input.city: must be at least 2 characters long, got 1',
      'input.unit: must be one of "C", "F", got "K"',
      'input.days: expected integer, got number',
      'input.tags: must have at most 2 items, got 3',
      'input.tags[0]: expected string, got integer',
      'input.location: missing required property "lon"',
      'input.location.lat: expected number, got string',
      'input.note: expected string or null, got integer',
      'input: unexpected property "extra"',
    ]);
  });

  it('reports a missing required property and a wrong root type', () => {
    expect(jsonSchemaProblems(weather, {})).toEqual(['input: missing required property "city"']);
    expect(jsonSchemaProblems(weather, [])).toEqual(['input: expected object, got array']);
    expect(jsonSchemaProblems(weather, null)).toEqual(['input: expected object, got null']);
  });

  it('accepts an integer as a number, and checks number bounds', () => {
    const schema = { type: 'number', minimum: 0, exclusiveMaximum: 10 };
    expect(jsonSchemaProblems(schema, 3)).toEqual([]);
    expect(jsonSchemaProblems(schema, -1)).toEqual(['input: must be >= 0, got -1']);
    expect(jsonSchemaProblems(schema, 10)).toEqual(['input: must be < 10, got 10']);
    expect(jsonSchemaProblems({ type: 'integer', maximum: 5 }, 6)).toEqual(['input: must be <= 5, got 6']);
    expect(jsonSchemaProblems({ type: 'number', exclusiveMinimum: 0 }, 0)).toEqual(['input: must be > 0, got 0']);
  });

  it('checks const, pattern and booleans', () => {
    expect(jsonSchemaProblems({ const: 'v1' }, 'v2')).toEqual(['input: must be "v1", got "v2"']);
    expect(jsonSchemaProblems({ const: { a: [1] } }, { a: [1] })).toEqual([]);
    expect(jsonSchemaProblems({ type: 'string', pattern: '^[A-Z]{3}$' }, 'EUR')).toEqual([]);
    expect(jsonSchemaProblems({ type: 'string', pattern: '^[A-Z]{3}$' }, 'eur')).toEqual([
      'input: must match the pattern "^[A-Z]{3}$"',
    ]);
    expect(jsonSchemaProblems({ type: 'boolean' }, 'true')).toEqual(['input: expected boolean, got string']);
  });

  it('checks additionalProperties given as a schema, and quotes keys that are not identifiers', () => {
    const schema = { type: 'object', additionalProperties: { type: 'number' } };
    expect(jsonSchemaProblems(schema, { a: 1, 'b-c': 'x' })).toEqual(['input["b-c"]: expected number, got string']);
  });

  it('checks anyOf, oneOf and allOf', () => {
    const anyOf = { anyOf: [{ type: 'string' }, { type: 'integer' }] };
    expect(jsonSchemaProblems(anyOf, 3)).toEqual([]);
    expect(jsonSchemaProblems(anyOf, true)).toEqual([
      'input: must match at least one of the options (input: expected string, got boolean; input: expected integer, got boolean)',
    ]);
    const oneOf = { oneOf: [{ type: 'number' }, { type: 'integer' }] };
    expect(jsonSchemaProblems(oneOf, 1.5)).toEqual([]);
    expect(jsonSchemaProblems(oneOf, 1)).toEqual(['input: must match exactly one of the options (it matches 2)']);
    expect(jsonSchemaProblems({ allOf: [{ minLength: 2 }, { maxLength: 3 }] }, 'abcd')).toEqual([
      'input: must be at most 3 characters long, got 4',
    ]);
  });

  it('ignores keywords it does not know, and a schema that is true or empty', () => {
    expect(jsonSchemaProblems({ type: 'string', format: 'email', $ref: '#/x' }, 'not an email')).toEqual([]);
    expect(jsonSchemaProblems(true, 42)).toEqual([]);
    expect(jsonSchemaProblems({}, 42)).toEqual([]);
    expect(jsonSchemaProblems({ type: 'object', properties: { a: false } }, { a: 1 })).toEqual([
      'input.a: no value is allowed here',
    ]);
  });

  it('counts characters, not UTF-16 units, for string lengths', () => {
    expect(jsonSchemaProblems({ type: 'string', maxLength: 2 }, '😀😀')).toEqual([]);
  });

  it('reports at most 10 problems', () => {
    const schema = { type: 'array', items: { type: 'string' } };
    expect(
      jsonSchemaProblems(
        schema,
        Array.from({ length: 20 }, (_, i) => i),
      ),
    ).toHaveLength(10);
  });
});
