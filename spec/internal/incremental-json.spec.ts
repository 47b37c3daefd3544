import { partialParse } from '@anthropic-ai/sdk/_vendor/partial-json-parser/parser';

import { IncrementalJsonParser, IncrementalJsonSyntaxError } from '../../lib/internal/incremental-json.js';

/** Deterministic PRNG (mulberry32), so that a failing fragmentation can be reproduced. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits `text` into fragments of 1..maxSize characters. */
function fragments(text: string, rnd: () => number, maxSize = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length;) {
    const size = 1 + Math.floor(rnd() * maxSize);
    out.push(text.slice(i, i + size));
    i += size;
  }
  return out;
}

function parse(text: string, rnd?: () => number): IncrementalJsonParser {
  const parser = new IncrementalJsonParser();
  for (const fragment of rnd ? fragments(text, rnd) : [text]) parser.push(fragment);
  return parser;
}

/** The SDK's partial parse, or `undefined` where it throws. */
function sdk(text: string): unknown {
  try {
    return partialParse(text);
  } catch {
    return undefined;
  }
}

const DOCUMENTS: Record<string, string> = {
  'tool input with a file': JSON.stringify(
    {
      path: 'src/app.ts',
      content: 'import x from "y";\n\tconst s = \'\\u00e9\';\n// tab\there, quote " and backslash \\ done\r\n',
      mode: 420,
      overwrite: true,
    },
    null,
    2,
  ),
  'nested containers': `{"a":{"b":{"c":[1,[2,[3,{}]],[]]},"d":[]},"e":[{"f":null},{"g":false,"h":true}],"i":{}}`,
  'whitespace everywhere':
    ' \n{ "a" :\t[ 1 , -2.5e+3 ,\r\n0 , "x" ] ,\n "b" : { } , "c" : [ ] , "d":null , "e" : "" }\n ',
  numbers: '[0,-0,1,-1,12.5,-0.25,1e5,1E-7,-3.14e+10,0.0,123456789012345678901234567890,2.5E3,9]',
  escapes: String.raw`{"q":"\"quoted\"","bs":"a\\b","sl":"\/","ctl":"\b\f\n\r\t","u":"\u0041\u00e9\u4e2d\u0000","pair":"\ud83d\ude00 smile","lone":"\ud800x","keys \u0041":{"\u00e9":1}}`,
  'unicode raw': '{"emoji":"😀👍🏽","cjk":"中文字符","mixed":["é", "😀", "\\ud83d\\ude00"]}',
  'array of records': JSON.stringify([
    { id: 1, name: 'Ada', tags: ['math', 'engines'], score: 99.5, active: true, manager: null },
    { id: 2, name: 'Linus', tags: [], score: -1e-3, active: false, manager: { id: 1 } },
  ]),
  'top-level array of scalars': '["a", true, false, null, 1, "b"]',
};

describe('IncrementalJsonParser', () => {
  describe('snapshot() against the SDK partialParse, every prefix', () => {
    for (const [name, doc] of Object.entries(DOCUMENTS)) {
      it(`${name}: fresh parser per prefix, random fragments`, () => {
        const rnd = random(doc.length);
        for (let length = 0; length <= doc.length; length++) {
          const prefix = doc.slice(0, length);
          const parser = parse(prefix, rnd);
          // On these documents partialParse only throws where nothing is complete yet (empty text, an unfinished
          // top-level scalar); the snapshot is then undefined.
          expect({ prefix, snapshot: parser.snapshot() }).toEqual({ prefix, snapshot: sdk(prefix) });
        }
      });

      it(`${name}: one parser fed a character at a time`, () => {
        const parser = new IncrementalJsonParser();
        expect(parser.snapshot()).toBeUndefined();
        for (let length = 1; length <= doc.length; length++) {
          parser.push(doc.slice(length - 1, length));
          const prefix = doc.slice(0, length);
          expect({ prefix, snapshot: parser.snapshot() }).toEqual({ prefix, snapshot: sdk(prefix) });
        }
        expect(parser.finish()).toEqual(JSON.parse(doc));
      });
    }

    it('matches the documented partialParse examples', () => {
      const cases: [string, unknown][] = [
        ['{"a": "hel', {}],
        ['{"a": [1, 2', { a: [1] }],
        ['{"a": [1, 2 ', { a: [1, 2] }],
        ['{"a": ["x", "y', { a: ['x'] }],
        ['{"a": tr', {}],
        ['{"a": true', { a: true }],
        ['{"a": {"b": nu', { a: {} }],
        ['[', []],
        ['{"a":', {}],
        ['{"a": "x\\', {}],
        ['["a\\"', []],
        ['{"a": -', {}],
        ['12 ', 12],
      ];
      for (const [text, expected] of cases) {
        expect({ text, snapshot: parse(text).snapshot() }).toEqual({ text, snapshot: expected });
        expect({ text, snapshot: sdk(text) }).toEqual({ text, snapshot: expected });
      }
    });

    it('returns undefined where partialParse throws: nothing complete yet at the top level', () => {
      for (const text of ['', ' \n', '1', '-', '12.5e', '"ab', '"ab\\u00', 'tr', 'nul']) {
        expect(() => partialParse(text)).toThrow();
        expect({ text, snapshot: parse(text).snapshot() }).toEqual({ text, snapshot: undefined });
      }
      // complete top-level scalars agree
      for (const text of ['"ab"', 'true', 'null ', '-1e3 ']) {
        expect(parse(text).snapshot()).toEqual(partialParse(text));
      }
    });
  });

  describe('fragmentation', () => {
    for (const [name, doc] of Object.entries(DOCUMENTS)) {
      it(`${name}: random fragments give the same snapshots and result as one-shot`, () => {
        for (let seed = 1; seed <= 5; seed++) {
          const parser = new IncrementalJsonParser();
          let length = 0;
          for (const fragment of fragments(doc, random(seed), 1 + seed * 3)) {
            parser.push(fragment);
            length += fragment.length;
            const oneShot = parse(doc.slice(0, length));
            expect(parser.snapshot()).toEqual(oneShot.snapshot());
            expect(parser.snapshot({ partialStrings: true })).toEqual(oneShot.snapshot({ partialStrings: true }));
            expect(parser.complete).toBe(oneShot.complete);
          }
          expect(parser.text).toBe(doc);
          expect(parser.charsScanned).toBe(doc.length);
          expect(parser.finish()).toEqual(parse(doc).finish());
        }
      });
    }
  });

  describe('finish()', () => {
    it('equals JSON.parse on valid documents', () => {
      const docs = [
        ...Object.values(DOCUMENTS),
        '0',
        '-0',
        '1e400',
        '"x"',
        'null',
        '  [] ',
        '{"__proto__": {"polluted": 1}, "b": 2}',
        '{"a": 1, "b": 2, "a": 3}',
      ];
      for (const doc of docs) {
        const result = parse(doc, random(7)).finish();
        expect(result).toEqual(JSON.parse(doc));
        if (result !== null && typeof result === 'object')
          expect(Object.keys(result)).toEqual(Object.keys(JSON.parse(doc)));
      }
    });

    it('keeps __proto__ as an own property, like JSON.parse', () => {
      const parser = parse('{"__proto__": {"polluted": 1}}');
      const result = parser.finish() as Record<string, unknown>;
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(result, '__proto__')).toBe(true);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      const open = parse('{"__proto__": {"polluted": 1}, "x": [').snapshot() as Record<string, unknown>;
      expect(Object.getPrototypeOf(open)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(open, '__proto__')).toBe(true);
    });

    it('treats an empty text as {} (no fragments for an empty input object)', () => {
      expect(new IncrementalJsonParser().finish()).toEqual({});
    });

    it('accepts a top-level number ended by the text, which is not complete before finish()', () => {
      const parser = parse('12');
      expect(parser.complete).toBe(false);
      expect(parser.finish()).toBe(12);
      parser.push('3');
      expect(parser.finish()).toBe(123);
    });

    it('throws at the end of an incomplete text, and the parser can go on', () => {
      for (const text of [' ', '{', '{"a": 1', '[1, ', '"ab', 'tru', '-', '1.', '1e+']) {
        const parser = parse(text);
        expect(() => parser.finish()).toThrow(IncrementalJsonSyntaxError);
        try {
          parser.finish();
        } catch (error) {
          expect((error as IncrementalJsonSyntaxError).offset).toBe(text.length);
        }
      }
      const parser = parse('{"a": 1');
      expect(() => parser.finish()).toThrow(IncrementalJsonSyntaxError);
      parser.push('}');
      expect(parser.finish()).toEqual({ a: 1 });
    });

    it('finishes a generated ~1 MB document fed in 16-character fragments, scanning each character once', () => {
      const rnd = random(42);
      const chunk = 'Lorem ipsum dolor sit amet, "quoted" \\ back\tslash é 😀 \u0001 ';
      let content = '';
      while (content.length < 600_000) content += chunk.slice(0, 1 + Math.floor(rnd() * chunk.length));
      const records = Array.from({ length: 2_000 }, (_, id) => ({
        id,
        name: `item ${id}`,
        value: rnd() * 1e6 - 5e5,
        tags: ['a', 'b', id % 2 === 0],
        nested: { ok: id % 3 === 0 ? null : true },
      }));
      const value = { path: 'big.txt', records, content, size: content.length };
      const doc = JSON.stringify(value, null, 1);
      expect(doc.length).toBeGreaterThan(750_000);

      const parser = new IncrementalJsonParser();
      let recordsSnapshot: unknown;
      let recordsShared = true;
      for (let i = 0; i < doc.length; i += 16) {
        parser.push(doc.slice(i, i + 16));
        const snapshot = parser.snapshot() as Record<string, unknown>;
        parser.snapshot({ partialStrings: true });
        // once closed, the records array is built once and shared by every later snapshot, never copied again
        if (recordsSnapshot !== undefined) recordsShared &&= snapshot['records'] === recordsSnapshot;
        else if ('content' in snapshot || 'size' in snapshot) recordsSnapshot = snapshot['records'];
      }
      expect(recordsSnapshot).toBeDefined();
      expect(recordsShared).toBe(true);
      // snapshots after every fragment never re-scanned the text
      expect(parser.charsScanned).toBe(doc.length);
      expect(parser.text.length).toBe(doc.length);
      expect(parser.complete).toBe(true);
      expect(parser.finish()).toEqual(value);
    });
  });

  describe('syntax errors', () => {
    const invalid: [string, number][] = [
      ["{'a': 1}", 1],
      ['[1, 2,]', 6],
      ['{"a": 1,}', 8],
      ['NaN', 0],
      ['[1 2]', 3],
      ['{"a" 1}', 5],
      ['{"a": tru}', 9],
      ['"a\\x"', 3],
      ['"a\nb"', 2],
      ['"\\u12G4"', 5],
      ['01', 1],
      ['-x', 1],
      ['1.e5', 2],
      ['1e', 2], // the end of the text
      ['{} x', 3],
      ['[1]]', 3],
      ['[1}', 2],
      ['{"a": [}', 7],
      ['{1: 2}', 1],
      ['[.5]', 1],
      ['[+1]', 1],
      ['[Infinity]', 1],
      ['["a" "b"]', 5],
    ];

    it.each(invalid)('%j fails at offset %d, however fragmented', (text, offset) => {
      expect(() => void JSON.parse(text)).toThrow(SyntaxError);
      for (let seed = 0; seed < 4; seed++) {
        const parser = new IncrementalJsonParser();
        let error: unknown;
        try {
          for (const fragment of seed === 0 ? [text] : fragments(text, random(seed), 3)) parser.push(fragment);
          parser.finish();
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(IncrementalJsonSyntaxError);
        expect(error).toBeInstanceOf(SyntaxError);
        expect((error as IncrementalJsonSyntaxError).offset).toBe(offset);
      }
    });

    it('stays failed: push and finish rethrow the first error', () => {
      const parser = parse('[1, ');
      expect(() => parser.push('2, ]')).toThrow(IncrementalJsonSyntaxError);
      let first: unknown;
      try {
        parser.push('3]');
      } catch (error) {
        first = error;
      }
      expect((first as IncrementalJsonSyntaxError).offset).toBe(7);
      expect(() => parser.finish()).toThrow(first as Error);
      expect(parser.snapshot()).toEqual([1, 2]);
    });

    it('reports the offset in the whole text, not in the fragment', () => {
      const parser = parse('{"a": [1, 2], ');
      let error: unknown;
      try {
        parser.push('  "b": [3, 4, ,]');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(IncrementalJsonSyntaxError);
      expect((error as IncrementalJsonSyntaxError).offset).toBe(14 + 14);
      expect((error as Error).message).toContain('position 28');
    });
  });

  describe('immutability', () => {
    for (const [name, doc] of Object.entries(DOCUMENTS)) {
      it(`${name}: snapshots do not change with later pushes`, () => {
        const parser = new IncrementalJsonParser();
        const taken: [unknown, unknown][] = [];
        for (const fragment of fragments(doc, random(3), 4)) {
          parser.push(fragment);
          for (const options of [undefined, { partialStrings: true }]) {
            const snapshot = parser.snapshot(options);
            taken.push([snapshot, structuredClone<unknown>(snapshot)]);
            if (snapshot !== null && typeof snapshot === 'object') expect(Object.isFrozen(snapshot)).toBe(true);
          }
        }
        for (const [snapshot, clone] of taken) expect(snapshot).toEqual(clone);
      });
    }

    it('memoizes the snapshot until the next push', () => {
      const parser = parse('{"a": [1, {"b": "x');
      const first = parser.snapshot();
      expect(parser.snapshot()).toBe(first);
      parser.push('');
      expect(parser.snapshot()).toBe(first);
      parser.push('y');
      // nothing visible changed (the string is unfinished), so the cached copies are reused
      expect(parser.snapshot()).toBe(first);
      parser.push('"');
      expect(parser.snapshot()).not.toBe(first);
      expect(parser.snapshot()).toEqual({ a: [1, { b: 'xy' }] });
      expect(first).toEqual({ a: [1, {}] });
    });
  });

  describe('partialStrings', () => {
    const cases: [string, unknown][] = [
      ['{"content": "hel', { content: 'hel' }],
      ['{"content": "', { content: '' }],
      ['{"a": "x\\', { a: 'x' }],
      ['{"a": "x\\n', { a: 'x\n' }],
      ['{"a": "x\\u00', { a: 'x' }],
      ['{"a": "x\\u0041', { a: 'xA' }],
      ['{"a": "\\ud83d', { a: '' }],
      ['{"a": "\\ud83d\\ude00', { a: '😀' }],
      ['{"a": "\ud83d', { a: '' }],
      ['{"a": "\ud83d\ude00', { a: '😀' }],
      ['{"ke', {}],
      ['{"a": "x", "b', { a: 'x' }],
      ['{"a": "x", "b": "y', { a: 'x', b: 'y' }],
      ['["a", "b', ['a', 'b']],
      ['{"a": [{"b": "c', { a: [{ b: 'c' }] }],
      ['"ab', 'ab'],
      ['"ab\\u00', 'ab'],
      ['{"a": 12', {}],
      ['{"a": tr', {}],
    ];

    it.each(cases)('%j → %j', (text, expected) => {
      expect(parse(text).snapshot({ partialStrings: true })).toEqual(expected);
      expect(parse(text, random(text.length)).snapshot({ partialStrings: true })).toEqual(expected);
    });

    it('shows a streaming string growing, while the default snapshot leaves it out', () => {
      const parser = parse('{"path": "a.txt", "content": "');
      const seen: string[] = [];
      for (const fragment of ['line 1\\n', 'line 2\\', 'n', 'end']) {
        parser.push(fragment);
        seen.push((parser.snapshot({ partialStrings: true }) as { content: string }).content);
        expect(parser.snapshot()).toEqual({ path: 'a.txt' });
      }
      expect(seen).toEqual(['line 1\n', 'line 1\nline 2', 'line 1\nline 2\n', 'line 1\nline 2\nend']);
      parser.push('"}');
      expect(parser.snapshot({ partialStrings: true })).toEqual(parser.snapshot());
      expect(parser.finish()).toEqual({ path: 'a.txt', content: 'line 1\nline 2\nend' });
    });
  });
});
