/**
 * An incremental JSON parser for streamed tool input (`input_json_delta` fragments).
 *
 * The SDK re-parses the whole buffer with a partial-JSON parser on every delta, which is quadratic in the size of
 * the input. This parser scans every character exactly once, keeping a live tree: closed containers are finished,
 * frozen values built once; only the containers still open (the stack) are copied by {@link
 * IncrementalJsonParser.snapshot}, so a snapshot costs the size of the open containers, not of the text.
 *
 * @module
 */

// Scanner states. Plain numbers rather than an enum: the hot loop switches on them. These constants come first in the
// module, before any import or other statement: esbuild inlines top-level constants only there (so that a browser
// bundle switches on literals, and holds no declarations for them).
const VALUE = 0; // a value must follow (document start, after `:`, after `,` in an array)
const ARRAY_FIRST = 1; // after `[`: a value or `]`
const OBJECT_FIRST = 2; // after `{`: a key or `}`
const KEY = 3; // after `,` in an object: a key
const COLON = 4; // after a key
const AFTER = 5; // after a value: `,` or the closer, or only whitespace at the top level
const STRING = 6;
const ESCAPE = 7; // after a backslash in a string
const UNICODE = 8; // inside the 4 hex digits of `\uXXXX`
const NUMBER = 9;
const LITERAL = 10; // inside `true`, `false` or `null`

// Number sub-states, following the grammar -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?. Numbered so that the
// terminal ones, where the number may end, are the odd ones.
const N_MINUS = 0;
const N_ZERO = 1; // terminal
const N_DOT = 2;
const N_INT = 3; // terminal
const N_EXP = 4;
const N_FRAC = 5; // terminal
const N_EXP_SIGN = 6;
const N_EXP_DIGITS = 7; // terminal

// The characters that may follow a backslash (`u` aside), and what each stands for, at the same place.
const ESCAPES = '"\\/bfnrt';
const ESCAPED = '"\\/\b\f\n\r\t';

const isTerminalNumber = (state: number): boolean => state % 2 === 1;

/**
 * A syntax error found by {@link IncrementalJsonParser}, with the offset of the first character that cannot
 * continue valid JSON (or the text length when the text ends too early).
 *
 * @example
 * ```ts
 * try {
 *   new IncrementalJsonParser().push('[1,]');
 * } catch (error) {
 *   if (error instanceof IncrementalJsonSyntaxError) console.log(error.offset); // 3
 * }
 * ```
 */
export class IncrementalJsonSyntaxError extends SyntaxError {
  override readonly name = 'IncrementalJsonSyntaxError';

  constructor(
    message: string,
    /** Offset (in UTF-16 code units) into the whole text, not into the fragment that held it. */
    readonly offset: number,
  ) {
    super(`${message} at position ${offset}`);
  }
}

/** Options of {@link IncrementalJsonParser.snapshot}. */
export interface IncrementalJsonSnapshotOptions {
  /**
   * Include an unfinished string value as far as it has arrived (decoded; an unfinished escape or a high surrogate
   * still waiting for its pair is left out). Unfinished keys are still dropped. Default `false`, which matches the
   * SDK's partial parser.
   */
  partialStrings?: boolean;
}

/** The number sub-state after `c`, or -1 when `c` does not continue the number. */
function numberStep(state: number, c: number): number {
  const digit = c >= 0x30 && c <= 0x39;
  const exponent = c === 0x65 || c === 0x45; // e E
  switch (state) {
    case N_MINUS:
      return c === 0x30 ? N_ZERO : digit ? N_INT : -1;
    case N_ZERO:
      return c === 0x2e ? N_DOT : exponent ? N_EXP : -1;
    case N_INT:
      return digit ? N_INT : c === 0x2e ? N_DOT : exponent ? N_EXP : -1;
    case N_DOT:
      return digit ? N_FRAC : -1;
    case N_FRAC:
      return digit ? N_FRAC : exponent ? N_EXP : -1;
    case N_EXP:
      return c === 0x2b || c === 0x2d ? N_EXP_SIGN : digit ? N_EXP_DIGITS : -1;
    default: // N_EXP_SIGN, N_EXP_DIGITS
      return digit ? N_EXP_DIGITS : -1;
  }
}

/**
 * The error for `s[i]`, which cannot continue the JSON (a bad escape, a control character in a string and a number cut
 * short included: the character, quoted, says which).
 */
function unexpected(s: string, i: number, base: number): IncrementalJsonSyntaxError {
  return new IncrementalJsonSyntaxError(`Unexpected character ${JSON.stringify(s[i])}`, base + i);
}

/** Sets an own data property; plain assignment of `__proto__` would set the prototype instead (JSON.parse does not). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** A frame's last snapshot copy, reusable while neither the frame nor what hangs below it has changed. */
interface SnapshotCache {
  readonly version: number;
  readonly child: unknown;
  readonly copy: unknown;
}

/** An open container on the stack. */
class Frame {
  /** Bumped on every change of the container or its pending key, invalidating the snapshot caches. */
  #version = 0;
  /** Objects only: the key whose value is being read. */
  #key: string | undefined;
  /** Values added so far (a repeated key counts again): what a copy costs, at most. */
  entries = 0;
  /** Snapshot caches, per mode (index 0: default, 1: partialStrings). */
  readonly #caches: (SnapshotCache | undefined)[] = [];

  constructor(readonly container: unknown[] | Record<string, unknown>) {}

  get isArray(): boolean {
    return Array.isArray(this.container);
  }

  /** Objects: the key whose value comes next. */
  setKey(key: string): void {
    this.#key = key;
    this.#version++;
  }

  /** Adds a finished value (to an object, under the key set last). */
  add(value: unknown): void {
    if (Array.isArray(this.container)) {
      this.container.push(value);
    } else {
      setOwn(this.container, this.#key as string, value);
      this.#key = undefined;
    }
    this.#version++;
    this.entries++;
  }

  /** A frozen shallow copy with `child` (an open child's copy or a partial string; `undefined` for none) added. */
  copy(mode: 0 | 1, child: unknown): unknown {
    const cached = this.#caches[mode];
    // A partial string only grows while the frame's version stands, so equal lengths mean equal strings; comparing
    // lengths avoids a content comparison of two long strings.
    if (
      cached?.version === this.#version &&
      (cached.child === child ||
        (typeof child === 'string' && typeof cached.child === 'string' && cached.child.length === child.length))
    ) {
      return cached.copy;
    }
    let copy: unknown[] | Record<string, unknown>;
    if (Array.isArray(this.container)) {
      copy = this.container.slice();
      if (child !== undefined) copy.push(child);
    } else {
      // Key by key, not `{ ...container }`: V8 gives a spread copy a map of its own, so adding the child and freezing
      // then cost a new map each time (over 1 µs, per delta while a string streams); built from `{}`, maps are shared.
      copy = {};
      const container = this.container;
      for (const key of Object.keys(container)) setOwn(copy, key, container[key]);
      if (child !== undefined && this.#key !== undefined) setOwn(copy, this.#key, child);
    }
    Object.freeze(copy);
    this.#caches[mode] = { version: this.#version, child, copy };
    return copy;
  }
}

/** The input of a tool called without arguments, for which the API sends no fragment: `{}`, frozen and shared. */
export const EMPTY_INPUT: Readonly<Record<string, never>> = Object.freeze({});

/**
 * Parses JSON arriving in fragments, scanning each character once, with a cheap best-effort value at any time.
 *
 * Returned values (from {@link snapshot} and {@link finish}) are deeply frozen and share closed subtrees with each
 * other, so a later push never changes a value already handed out. After a syntax error the parser is dead: `push`
 * and `finish` rethrow that error.
 *
 * @example
 * ```ts
 * const parser = new IncrementalJsonParser();
 * parser.push('{"path": "a.txt", "content": "hel');
 * parser.snapshot(); // { path: 'a.txt' }
 * parser.snapshot({ partialStrings: true }); // { path: 'a.txt', content: 'hel' }
 * parser.push('lo"}');
 * parser.finish(); // { path: 'a.txt', content: 'hello' }
 * ```
 */
export class IncrementalJsonParser {
  #text = '';
  #charsScanned = 0;
  #failure: IncrementalJsonSyntaxError | undefined;

  #state = VALUE;
  readonly #stack: Frame[] = [];
  #hasRoot = false;
  #root: unknown;
  #openEntries = 0;

  // The current string, decoded. A trailing high surrogate is held apart in `high` so that a partial snapshot can
  // leave it out without slicing (which would flatten the rope `str`).
  #str = '';
  #high = '';
  #stringIsKey = false;
  #hex = ''; // the digits of a `\uXXXX` escape so far

  #numberText = '';
  #numberState = N_MINUS;

  // `true`, `false` or `null`: matched character by character, then its value read by JSON.parse
  #literal = '';
  #literalPos = 0;

  // Snapshots per mode (index 0: default, 1: partialStrings) until the next push. `undefined` and `null` are not
  // kept: they are rebuilt at no cost (nothing is open then).
  #memo: unknown[] = [];

  /**
   * The JSON text received so far.
   *
   * Kept as plain string concatenation: V8 builds ropes, so appending is O(1) amortized and nothing here reads the
   * characters of the whole text back.
   *
   * @example
   * ```ts
   * parser.push('{"a"');
   * parser.push(': 1}');
   * parser.text; // '{"a": 1}'
   * ```
   */
  get text(): string {
    return this.#text;
  }

  /**
   * How many characters the scanner has consumed: equal to `text.length` unless a syntax error stopped it.
   *
   * Exposed so tests can prove that {@link snapshot} never re-scans the text.
   *
   * @example
   * ```ts
   * parser.push('[1, 2]');
   * parser.snapshot();
   * parser.charsScanned; // 6
   * ```
   */
  get charsScanned(): number {
    return this.#charsScanned;
  }

  /**
   * How many values the open containers hold in all: what a {@link snapshot} copies at most (less where its memo or
   * a container's last copy can be reused). Lets a caller take small snapshots at once and defer large ones.
   *
   * @example
   * ```ts
   * parser.push('{"a": [1, 2, 3');
   * parser.openEntries; // 2: the array's 1 and 2 (3 may go on)
   * ```
   */
  get openEntries(): number {
    return this.#openEntries;
  }

  /**
   * The syntax error that stopped the parser, if the text is not JSON (a text merely unfinished has none).
   *
   * @example
   * ```ts
   * const parser = replayJson('{"a": 1 "b"');
   * parser.error?.message; // 'Unexpected character "\\"" at position 8'
   * ```
   */
  get error(): IncrementalJsonSyntaxError | undefined {
    return this.#failure;
  }

  /**
   * True once a complete top-level value has been read (only whitespace may follow).
   *
   * A top-level number at the very end is not complete yet: more digits may follow (`finish()` accepts it though).
   *
   * @example
   * ```ts
   * parser.push('{"a": 1}');
   * parser.complete; // true
   * ```
   */
  get complete(): boolean {
    return this.#hasRoot;
  }

  /**
   * Feeds the next fragment. Throws {@link IncrementalJsonSyntaxError} at the first invalid character (with the offset
   * into the whole text).
   *
   * @example
   * ```ts
   * parser.push('{"a": [1, ');
   * parser.push('2]}');
   * ```
   */
  push(fragment: string): void {
    if (this.#failure) throw this.#failure;
    if (fragment.length === 0) return;
    const base = this.#text.length;
    this.#text += fragment;
    this.#memo = [];
    try {
      this.#scan(fragment, base);
    } catch (error) {
      if (error instanceof IncrementalJsonSyntaxError) this.#failure = error;
      throw error;
    }
  }

  /**
   * The best-effort value of the text so far, without re-scanning it.
   *
   * By default this matches the SDK's `partialParse`: unfinished scalars and keys without a value are dropped (a
   * number is unfinished until a delimiter follows it), open containers are closed. Where `partialParse` throws
   * because nothing is complete yet (empty text, an unfinished top-level scalar), this returns `undefined`.
   * Costs the size of the open containers (copied shallowly), memoized until the next push.
   *
   * @example
   * ```ts
   * parser.push('{"a": [1, 2');
   * parser.snapshot(); // { a: [1] }
   * ```
   */
  snapshot(options?: IncrementalJsonSnapshotOptions): unknown {
    const mode = options?.partialStrings ? 1 : 0;
    return (this.#memo[mode] ??= this.#build(mode));
  }

  /**
   * The complete value; throws {@link IncrementalJsonSyntaxError} if the text is not one complete JSON value.
   *
   * An empty text is `{}`: the API sends no fragments for an empty input object. Does not change the parser, so more
   * text may still be pushed after a failed `finish()`.
   *
   * @example
   * ```ts
   * parser.push('{"a": 1}');
   * parser.finish(); // { a: 1 }
   * ```
   */
  finish(): unknown {
    if (this.#failure) throw this.#failure;
    if (this.#hasRoot) return this.#root;
    if (this.#text.length === 0) return EMPTY_INPUT;
    // a top-level number ends with the text
    if (this.#state === NUMBER && this.#stack.length === 0 && isTerminalNumber(this.#numberState)) {
      return Number(this.#numberText);
    }
    throw new IncrementalJsonSyntaxError('Unexpected end of JSON input', this.#text.length);
  }

  #build(mode: 0 | 1): unknown {
    const inString = this.#state === STRING || this.#state === ESCAPE || this.#state === UNICODE;
    // the only unfinished scalar a snapshot shows: a string value in partialStrings mode
    const pending = mode === 1 && inString && !this.#stringIsKey ? this.#str : undefined;
    if (this.#stack.length === 0) return this.#hasRoot ? this.#root : pending;
    let child: unknown = pending;
    for (let depth = this.#stack.length - 1; depth >= 0; depth--) {
      child = (this.#stack[depth] as Frame).copy(mode, child);
    }
    return child;
  }

  #scan(s: string, base: number): void {
    const n = s.length;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case STRING: {
          // the bulk of a big input: take runs of plain characters as one slice
          const start = i;
          let c = 0;
          while (i < n) {
            c = s.charCodeAt(i);
            if (c === 0x22 || c === 0x5c || c < 0x20) break;
            i++;
          }
          if (i > start) this.#appendString(s.slice(start, i));
          if (i === n) break;
          if (c === 0x22) {
            i++;
            this.#endString();
          } else if (c === 0x5c) {
            i++;
            this.#state = ESCAPE;
          } else {
            throw unexpected(s, i, base);
          }
          break;
        }
        case ESCAPE: {
          const ch = s[i] as string;
          if (ch === 'u') {
            this.#hex = '';
            this.#state = UNICODE;
          } else {
            const index = ESCAPES.indexOf(ch);
            if (index < 0) throw unexpected(s, i, base);
            this.#appendString(ESCAPED[index] as string);
            this.#state = STRING;
          }
          i++;
          break;
        }
        case UNICODE: {
          const ch = s[i] as string;
          // parseInt of one character: NaN unless it is a hex digit
          if (isNaN(parseInt(ch, 16))) throw unexpected(s, i, base);
          this.#hex += ch;
          i++;
          if (this.#hex.length === 4) {
            // one UTF-16 code unit; a surrogate pair arrives as two escapes and joins by concatenation
            this.#appendString(String.fromCharCode(parseInt(this.#hex, 16)));
            this.#state = STRING;
          }
          break;
        }
        case NUMBER: {
          const start = i;
          while (i < n) {
            const next = numberStep(this.#numberState, s.charCodeAt(i));
            if (next < 0) break;
            this.#numberState = next;
            i++;
          }
          if (i > start) this.#numberText += s.slice(start, i);
          if (i === n) break;
          // s[i] ends the number; it is scanned again (not consumed) in the AFTER state
          if (!isTerminalNumber(this.#numberState)) throw unexpected(s, i, base);
          this.#attach(Number(this.#numberText));
          break;
        }
        case LITERAL: {
          if (s.charCodeAt(i) !== this.#literal.charCodeAt(this.#literalPos)) throw unexpected(s, i, base);
          i++;
          if (++this.#literalPos === this.#literal.length) this.#attach(JSON.parse(this.#literal));
          break;
        }
        default: {
          const c = s.charCodeAt(i);
          if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) this.#structural(s, i, base);
          i++;
          break;
        }
      }
    }
    this.#charsScanned += i;
  }

  /** Consumes the one non-whitespace character `s[i]` outside of any token. */
  #structural(s: string, i: number, base: number): void {
    const ch = s[i] as string;
    switch (this.#state) {
      case ARRAY_FIRST:
        if (ch === ']') return this.#close();
        return this.#startValue(s, i, base);
      case VALUE:
        return this.#startValue(s, i, base);
      case OBJECT_FIRST:
        if (ch === '}') return this.#close();
        if (ch === '"') return this.#startString(true);
        throw unexpected(s, i, base);
      case KEY:
        if (ch === '"') return this.#startString(true);
        throw unexpected(s, i, base);
      case COLON:
        if (ch !== ':') throw unexpected(s, i, base);
        this.#state = VALUE;
        return;
      default: {
        // AFTER
        const top = this.#stack[this.#stack.length - 1];
        if (top === undefined) throw unexpected(s, i, base);
        if (ch === ',') {
          this.#state = top.isArray ? VALUE : KEY;
          return;
        }
        if (ch === (top.isArray ? ']' : '}')) return this.#close();
        throw unexpected(s, i, base);
      }
    }
  }

  #startValue(s: string, i: number, base: number): void {
    const ch = s[i] as string;
    switch (ch) {
      case '{':
        this.#stack.push(new Frame({}));
        this.#state = OBJECT_FIRST;
        return;
      case '[':
        this.#stack.push(new Frame([]));
        this.#state = ARRAY_FIRST;
        return;
      case '"':
        return this.#startString(false);
      case 't':
      case 'f':
      case 'n':
        this.#literal = ch === 't' ? 'true' : ch === 'f' ? 'false' : 'null';
        this.#literalPos = 1;
        this.#state = LITERAL;
        return;
      default: {
        const c = s.charCodeAt(i);
        if (c === 0x2d) {
          this.#numberState = N_MINUS;
        } else if (c >= 0x30 && c <= 0x39) {
          this.#numberState = c === 0x30 ? N_ZERO : N_INT;
        } else {
          throw unexpected(s, i, base);
        }
        this.#numberText = ch;
        this.#state = NUMBER;
      }
    }
  }

  #startString(isKey: boolean): void {
    this.#str = '';
    this.#high = '';
    this.#stringIsKey = isKey;
    this.#state = STRING;
  }

  #appendString(piece: string): void {
    if (this.#high.length > 0) {
      this.#str += this.#high;
      this.#high = '';
    }
    const last = piece.charCodeAt(piece.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.#str += piece.slice(0, -1);
      this.#high = piece.slice(-1);
    } else {
      this.#str += piece;
    }
  }

  #endString(): void {
    const value = this.#str + this.#high;
    if (this.#stringIsKey) {
      (this.#stack[this.#stack.length - 1] as Frame).setKey(value);
      this.#state = COLON;
    } else {
      this.#attach(value);
    }
  }

  /** Adds a finished value to the innermost open container (or makes it the root). */
  #attach(value: unknown): void {
    this.#state = AFTER;
    const top = this.#stack[this.#stack.length - 1];
    if (top === undefined) {
      this.#root = value;
      this.#hasRoot = true;
      return;
    }
    top.add(value);
    this.#openEntries++;
  }

  #close(): void {
    const frame = this.#stack.pop() as Frame;
    this.#openEntries -= frame.entries;
    // closed containers are final: frozen once, then shared by every later snapshot
    this.#attach(Object.freeze(frame.container));
  }
}
