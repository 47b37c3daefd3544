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

// Scanner states. Plain numbers rather than an enum: the hot loop switches on them.
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

// Number sub-states, following the grammar -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?
const N_MINUS = 0;
const N_ZERO = 1; // terminal
const N_INT = 2; // terminal
const N_DOT = 3;
const N_FRAC = 4; // terminal
const N_EXP = 5;
const N_EXP_SIGN = 6;
const N_EXP_DIGITS = 7; // terminal

const isTerminalNumber = (state: number): boolean =>
  state === N_ZERO || state === N_INT || state === N_FRAC || state === N_EXP_DIGITS;

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

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** Sets an own data property; plain assignment of `__proto__` would set the prototype instead (JSON.parse does not). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
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
  version = 0;
  /** Objects only: the key whose value is being read. */
  key: string | undefined = undefined;
  /** Values added so far (a repeated key counts again): what a copy costs, at most. */
  entries = 0;
  /** Snapshot caches, per mode (index 0: default, 1: partialStrings). */
  readonly caches: [SnapshotCache | undefined, SnapshotCache | undefined] = [undefined, undefined];

  constructor(
    readonly isArray: boolean,
    readonly container: unknown[] | Record<string, unknown>,
  ) {}

  /** A frozen shallow copy with `child` (an open child's copy or a partial string; `undefined` for none) added. */
  copy(mode: 0 | 1, child: unknown): unknown {
    const cached = this.caches[mode];
    // A partial string only grows while the frame's version stands, so equal lengths mean equal strings; comparing
    // lengths avoids a content comparison of two long strings.
    if (
      cached !== undefined &&
      cached.version === this.version &&
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
      if (child !== undefined && this.key !== undefined) setOwn(copy, this.key, child);
    }
    Object.freeze(copy);
    this.caches[mode] = { version: this.version, child, copy };
    return copy;
  }
}

const UNSET: unique symbol = Symbol('unset');
const EMPTY_INPUT: Readonly<Record<string, never>> = Object.freeze({});

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
  private _text = '';
  private _charsScanned = 0;
  private failure: IncrementalJsonSyntaxError | undefined = undefined;

  private state = VALUE;
  private readonly stack: Frame[] = [];
  private hasRoot = false;
  private root: unknown = undefined;
  private _openEntries = 0;

  // The current string, decoded. A trailing high surrogate is held apart in `high` so that a partial snapshot can
  // leave it out without slicing (which would flatten the rope `str`).
  private str = '';
  private high = '';
  private stringIsKey = false;
  private hexCount = 0;
  private hexValue = 0;

  private numberText = '';
  private numberState = N_MINUS;

  private literal = '';
  private literalValue: unknown = undefined;
  private literalPos = 0;

  // Snapshots per mode until the next push.
  private memo: [unknown, unknown] = [UNSET, UNSET];

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
    return this._text;
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
    return this._charsScanned;
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
    return this._openEntries;
  }

  /**
   * The syntax error that stopped the parser, if the text is not JSON (a text merely unfinished has none).
   *
   * @example
   * ```ts
   * const parser = replayJson('{"a": 1 "b"');
   * parser.error?.message; // 'Unexpected string in JSON at position 8'
   * ```
   */
  get error(): IncrementalJsonSyntaxError | undefined {
    return this.failure;
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
    return this.hasRoot;
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
    if (this.failure !== undefined) throw this.failure;
    if (fragment.length === 0) return;
    const base = this._text.length;
    this._text += fragment;
    this.memo = [UNSET, UNSET];
    try {
      this.scan(fragment, base);
    } catch (error) {
      if (error instanceof IncrementalJsonSyntaxError) this.failure = error;
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
    const mode = options?.partialStrings === true ? 1 : 0;
    const memo = this.memo[mode];
    if (memo !== UNSET) return memo;
    const value = this.build(mode);
    this.memo[mode] = value;
    return value;
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
    if (this.failure !== undefined) throw this.failure;
    if (this.hasRoot) return this.root;
    if (this._text.length === 0) return EMPTY_INPUT;
    // a top-level number ends with the text
    if (this.state === NUMBER && this.stack.length === 0 && isTerminalNumber(this.numberState)) {
      return Number(this.numberText);
    }
    throw new IncrementalJsonSyntaxError('Unexpected end of JSON input', this._text.length);
  }

  private build(mode: 0 | 1): unknown {
    const inString = this.state === STRING || this.state === ESCAPE || this.state === UNICODE;
    // the only unfinished scalar a snapshot shows: a string value in partialStrings mode
    const pending = mode === 1 && inString && !this.stringIsKey ? this.str : undefined;
    if (this.stack.length === 0) return this.hasRoot ? this.root : pending;
    let child: unknown = pending;
    for (let depth = this.stack.length - 1; depth >= 0; depth--) {
      child = (this.stack[depth] as Frame).copy(mode, child);
    }
    return child;
  }

  private fail(message: string, offset: number): IncrementalJsonSyntaxError {
    return new IncrementalJsonSyntaxError(message, offset);
  }

  private unexpected(s: string, i: number, base: number): IncrementalJsonSyntaxError {
    return this.fail(`Unexpected character ${JSON.stringify(s[i])}`, base + i);
  }

  private scan(s: string, base: number): void {
    const n = s.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case STRING: {
          // the bulk of a big input: take runs of plain characters as one slice
          const start = i;
          let c = 0;
          while (i < n) {
            c = s.charCodeAt(i);
            if (c === 0x22 || c === 0x5c || c < 0x20) break;
            i++;
          }
          if (i > start) this.appendString(s.slice(start, i));
          if (i === n) break;
          if (c === 0x22) {
            i++;
            this.endString();
          } else if (c === 0x5c) {
            i++;
            this.state = ESCAPE;
          } else {
            throw this.fail('Bad control character in string literal', base + i);
          }
          break;
        }
        case ESCAPE: {
          const ch = s[i] as string;
          if (ch === 'u') {
            this.hexCount = 0;
            this.hexValue = 0;
            this.state = UNICODE;
          } else {
            const decoded = SIMPLE_ESCAPES[ch];
            if (decoded === undefined) throw this.fail('Bad escaped character', base + i);
            this.appendString(decoded);
            this.state = STRING;
          }
          i++;
          break;
        }
        case UNICODE: {
          const digit = hexDigit(s.charCodeAt(i));
          if (digit < 0) throw this.fail('Bad Unicode escape', base + i);
          this.hexValue = this.hexValue * 16 + digit;
          i++;
          if (++this.hexCount === 4) {
            // one UTF-16 code unit; a surrogate pair arrives as two escapes and joins by concatenation
            this.appendString(String.fromCharCode(this.hexValue));
            this.state = STRING;
          }
          break;
        }
        case NUMBER: {
          const start = i;
          while (i < n) {
            const next = numberStep(this.numberState, s.charCodeAt(i));
            if (next < 0) break;
            this.numberState = next;
            i++;
          }
          if (i > start) this.numberText += s.slice(start, i);
          if (i === n) break;
          // s[i] ends the number; it is scanned again (not consumed) in the AFTER state
          if (!isTerminalNumber(this.numberState)) throw this.fail('Unterminated number', base + i);
          this.attach(Number(this.numberText));
          break;
        }
        case LITERAL: {
          if (s.charCodeAt(i) !== this.literal.charCodeAt(this.literalPos)) throw this.unexpected(s, i, base);
          i++;
          if (++this.literalPos === this.literal.length) this.attach(this.literalValue);
          break;
        }
        default: {
          const c = s.charCodeAt(i);
          if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) this.structural(s, i, base);
          i++;
          break;
        }
      }
    }
    this._charsScanned += i;
  }

  /** Consumes the one non-whitespace character `s[i]` outside of any token. */
  private structural(s: string, i: number, base: number): void {
    const ch = s[i] as string;
    switch (this.state) {
      case ARRAY_FIRST:
        if (ch === ']') return this.close();
        return this.startValue(s, i, base);
      case VALUE:
        return this.startValue(s, i, base);
      case OBJECT_FIRST:
        if (ch === '}') return this.close();
        if (ch === '"') return this.startString(true);
        throw this.unexpected(s, i, base);
      case KEY:
        if (ch === '"') return this.startString(true);
        throw this.unexpected(s, i, base);
      case COLON:
        if (ch !== ':') throw this.unexpected(s, i, base);
        this.state = VALUE;
        return;
      default: {
        // AFTER
        const top = this.stack[this.stack.length - 1];
        if (top === undefined) throw this.fail('Unexpected non-whitespace character after JSON', base + i);
        if (ch === ',') {
          this.state = top.isArray ? VALUE : KEY;
          return;
        }
        if (ch === (top.isArray ? ']' : '}')) return this.close();
        throw this.unexpected(s, i, base);
      }
    }
  }

  private startValue(s: string, i: number, base: number): void {
    const ch = s[i] as string;
    switch (ch) {
      case '{':
        this.stack.push(new Frame(false, {}));
        this.state = OBJECT_FIRST;
        return;
      case '[':
        this.stack.push(new Frame(true, []));
        this.state = ARRAY_FIRST;
        return;
      case '"':
        return this.startString(false);
      case 't':
        return this.startLiteral('true', true);
      case 'f':
        return this.startLiteral('false', false);
      case 'n':
        return this.startLiteral('null', null);
      default: {
        const c = s.charCodeAt(i);
        if (c === 0x2d) {
          this.numberState = N_MINUS;
        } else if (c >= 0x30 && c <= 0x39) {
          this.numberState = c === 0x30 ? N_ZERO : N_INT;
        } else {
          throw this.unexpected(s, i, base);
        }
        this.numberText = ch;
        this.state = NUMBER;
      }
    }
  }

  private startLiteral(literal: string, value: unknown): void {
    this.literal = literal;
    this.literalValue = value;
    this.literalPos = 1;
    this.state = LITERAL;
  }

  private startString(isKey: boolean): void {
    this.str = '';
    this.high = '';
    this.stringIsKey = isKey;
    this.state = STRING;
  }

  private appendString(piece: string): void {
    if (this.high.length > 0) {
      this.str += this.high;
      this.high = '';
    }
    const last = piece.charCodeAt(piece.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.str += piece.slice(0, -1);
      this.high = piece.slice(-1);
    } else {
      this.str += piece;
    }
  }

  private endString(): void {
    const value = this.str + this.high;
    this.str = '';
    this.high = '';
    if (this.stringIsKey) {
      const top = this.stack[this.stack.length - 1] as Frame;
      top.key = value;
      top.version++;
      this.state = COLON;
    } else {
      this.attach(value);
    }
  }

  /** Adds a finished value to the innermost open container (or makes it the root). */
  private attach(value: unknown): void {
    this.state = AFTER;
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) {
      this.root = value;
      this.hasRoot = true;
      return;
    }
    if (Array.isArray(top.container)) {
      top.container.push(value);
    } else {
      setOwn(top.container, top.key as string, value);
      top.key = undefined;
    }
    top.version++;
    top.entries++;
    this._openEntries++;
  }

  private close(): void {
    const frame = this.stack.pop() as Frame;
    this._openEntries -= frame.entries;
    // closed containers are final: frozen once, then shared by every later snapshot
    this.attach(Object.freeze(frame.container));
  }
}
