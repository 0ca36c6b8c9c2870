import { type Anchor, type Flags, type Node, type Parsed, type SetItem, type Shorthand, PatternError } from './python-regex-tree';

export { PatternError } from './python-regex-tree';
export type { Flags, Node, SetItem, Shorthand } from './python-regex-tree';

const refuse = (message: string): never => {
  throw new PatternError(message);
};

const HEX = /^[0-9a-fA-F]+$/;
const OCTAL = '01234567';
const DIGITS = '0123456789';
const UNKNOWN_ASCII_LETTER = /^[A-Za-z]$/;
const SCOPED = 'imsx';

/** Python 3.11's `re` parser (Lib/re/_parser.py), as far as the translation needs it; errors as Python words them. */
class Reader {
  private pos = 0;
  private flags: Flags = { i: false, m: false, s: false, a: false };
  private readonly names = new Set<string>();
  private readonly chars: string[];

  constructor(source: string) {
    this.chars = [...source];
  }

  parse(): Parsed {
    this.globalFlags();
    const root = this.alternation(this.flags);
    if (this.pos < this.chars.length) refuse(`unbalanced parenthesis at position ${this.pos}`);
    return { flags: this.flags, root };
  }

  private get next(): string | undefined {
    return this.chars[this.pos];
  }

  private take(): string | undefined {
    return this.chars[this.pos++];
  }

  private eat(text: string): boolean {
    if (this.chars.slice(this.pos, this.pos + text.length).join('') !== text) return false;
    this.pos += text.length;
    return true;
  }

  /** `(?aimsux)` and `(?#…)` before anything else; Python 3.11 refuses global flags elsewhere. */
  private globalFlags(): void {
    // Python checks the global type flags once they are all read: `(?a)(?u)` is refused, not the last one winning.
    const types = new Set<string>();
    for (;;) {
      if (this.eat('(?#')) this.comment();
      else if (this.next === '(' && this.chars[this.pos + 1] === '?' && /^[aiLmsuxt]$/.test(this.chars[this.pos + 2] ?? '')) {
        const at = this.pos;
        this.pos += 2;
        const parsed = this.flagLetters();
        if (parsed.scoped) {
          this.pos = at;
          return;
        }
        for (const letter of parsed.on) if (letter === 'a' || letter === 'u') types.add(letter);
        if (types.size > 1) refuse('ASCII and UNICODE flags are incompatible');
        this.flags = parsed.apply(this.flags);
      } else return;
    }
  }

  private comment(): void {
    while (this.take() !== ')') if (this.pos > this.chars.length) refuse('missing ), unterminated comment');
  }

  /** After `(?`: the flag letters, `-` letters, and `)` (global) or `:` (scoped). */
  private flagLetters(): { scoped: boolean; on: ReadonlySet<string>; apply: (flags: Flags) => Flags } {
    const on = new Set<string>();
    const off = new Set<string>();
    let char = this.take();
    while (char !== undefined && /^[aiLmsuxt]$/.test(char)) {
      if (char === 'L') refuse("bad inline flags: cannot use 'L' flag with a str pattern");
      if (char === 'x') refuse('verbose mode (?x) is not supported: write the pattern without whitespace and comments');
      if (char === 't') refuse('the template flag (?t) is not supported');
      on.add(char);
      if (on.has('a') && on.has('u')) refuse("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
      char = this.take();
    }
    if (char === ')') return { scoped: false, on, apply: (flags) => withFlags(flags, on, off) };
    if (char === '-') {
      char = this.take();
      while (char !== undefined && /^[a-zA-Z]$/.test(char)) {
        if (char === 'a' || char === 'u' || char === 'L') refuse("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
        if (char === 'x') refuse('verbose mode (?x) is not supported');
        if (!SCOPED.includes(char)) refuse('unknown flag');
        if (on.has(char)) refuse('bad inline flags: flag turned on and off');
        off.add(char);
        char = this.take();
      }
      if (off.size === 0) refuse('missing flag');
    }
    if (char !== ':') refuse(`missing -, : or ) in inline flags at position ${this.pos}`);
    return { scoped: true, on, apply: (flags) => withFlags(flags, on, off) };
  }

  private alternation(flags: Flags): Node {
    const branches = [this.sequence(flags)];
    while (this.eat('|')) branches.push(this.sequence(flags));
    return branches.length === 1 ? branches[0] : { kind: 'alt', branches };
  }

  private sequence(flags: Flags): Node {
    const items: Node[] = [];
    for (;;) {
      const char = this.next;
      if (char === undefined || char === '|' || char === ')') return { kind: 'seq', items };
      if ('*+?{'.includes(char)) {
        if (this.quantifier(items)) continue;
      }
      const atom = this.atom(flags);
      if (atom) items.push(atom);
    }
  }

  /** Applies `* + ? {m,n}` (and a lazy `?`) to the last item; false when `{` is a literal. */
  private quantifier(items: Node[]): boolean {
    const at = this.pos;
    const char = this.take()!;
    let min = 0;
    let max = Infinity;
    if (char === '+') min = 1;
    else if (char === '?') max = 1;
    else if (char === '{') {
      const counts = /^\{(\d*)(?:(,)(\d*))?\}/.exec(this.chars.slice(at, at + 40).join(''));
      if (this.next === '}' || !counts) {
        this.pos = at;
        return false;
      }
      this.pos = at + [...counts[0]].length;
      min = counts[1] ? Number(counts[1]) : 0;
      max = counts[2] ? (counts[3] ? Number(counts[3]) : Infinity) : min;
      if (max < min) refuse(`min repeat greater than max repeat at position ${at}`);
      const big = Math.max(min, max === Infinity ? 0 : max);
      if (big > 1000) refuse(`repeat count ${counts[0]} at position ${at} is over RE2's limit of 1000`);
    }
    const last = items[items.length - 1];
    if (!last || last.kind === 'anchor') refuse(`nothing to repeat at position ${at}`);
    if (last.kind === 'repeat') refuse(`multiple repeat at position ${at}`);
    const lazy = this.eat('?');
    if (this.next === '+') refuse(`possessive quantifier ${char}+ at position ${at} is not supported: RE2 has none`);
    items[items.length - 1] = { kind: 'repeat', min, max, lazy, body: last };
    return true;
  }

  private atom(flags: Flags): Node | undefined {
    const at = this.pos;
    const char = this.take()!;
    if (char === '(') return this.group(flags, at);
    if (char === '[') return this.set(flags);
    if (char === '.') return { kind: 'dot', flags };
    if (char === '^' || char === '$') return { kind: 'anchor', which: char, flags };
    if (char === '\\') return this.escape(flags, at);
    return { kind: 'char', cp: char.codePointAt(0)!, flags };
  }

  private group(flags: Flags, start: number): Node | undefined {
    let capture = true;
    let name: string | undefined;
    let inner = flags;
    if (this.eat('?')) {
      const char = this.take();
      if (char === 'P' && this.eat('<')) {
        name = this.until('>');
        if (!/^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u.test(name)) refuse(`bad character in group name '${name}'`);
        if (this.names.has(name)) refuse(`redefinition of group name '${name}'`);
        this.names.add(name);
      } else if (char === 'P' && this.next === '=') {
        refuse(`backreference (?P=${this.until(')').slice(1)}) is not supported: RE2 has no backreferences`);
      } else if (char === ':') capture = false;
      else if (char === '#') {
        this.comment();
        return undefined;
      } else if (char === '=' || char === '!') refuse(`lookahead (?${char}…) is not supported: RE2 has no lookaround`);
      else if (char === '<' && (this.next === '=' || this.next === '!')) refuse(`lookbehind (?<${this.next}…) is not supported: RE2 has no lookaround`);
      else if (char === '(') refuse('conditional group (?(…)…) is not supported: RE2 has no conditionals');
      else if (char === '>') refuse('atomic group (?>…) is not supported: RE2 has none');
      else if (char !== undefined && /^[aiLmsuxt-]$/.test(char)) {
        this.pos -= 1;
        const parsed = this.flagLetters();
        if (!parsed.scoped) refuse(`global flags not at the start of the expression at position ${start}`);
        capture = false;
        inner = parsed.apply(flags);
      } else refuse(`unknown extension ?${char ?? ''} at position ${start}`);
    }
    const body = this.alternation(inner);
    if (!this.eat(')')) refuse(`missing ), unterminated subpattern at position ${start}`);
    return { kind: 'group', capture, name, flags: inner, body };
  }

  private until(end: string): string {
    const from = this.pos;
    while (this.next !== end) if (this.take() === undefined) refuse(`missing ${end}, unterminated name`);
    const text = this.chars.slice(from, this.pos).join('');
    this.pos += 1;
    if (text === '') refuse('missing group name');
    return text;
  }

  private set(flags: Flags): Node {
    const start = this.pos - 1;
    const negated = this.eat('^');
    const items: SetItem[] = [];
    for (;;) {
      const char = this.take();
      if (char === undefined) refuse(`unterminated character set at position ${start}`);
      if (char === ']' && items.length > 0) return { kind: 'set', negated, items, flags };
      const low = char === '\\' ? this.classEscape() : { lo: char!.codePointAt(0)!, hi: char!.codePointAt(0)! };
      if (this.next === '-' && this.chars[this.pos + 1] !== undefined && this.chars[this.pos + 1] !== ']') {
        this.pos += 1;
        const to = this.take()!;
        const high = to === '\\' ? this.classEscape() : { lo: to.codePointAt(0)!, hi: to.codePointAt(0)! };
        if (!('lo' in low) || !('lo' in high) || high.lo < low.lo) refuse(`bad character range at position ${start}`);
        items.push({ lo: (low as { lo: number }).lo, hi: (high as { lo: number }).lo });
      } else items.push(low);
    }
  }

  private classEscape(): SetItem {
    const at = this.pos - 1;
    const char = this.take();
    if (char !== undefined && 'dDwWsS'.includes(char)) return { shorthand: char as Shorthand };
    if (char === 'b') return { lo: 8, hi: 8 };
    if (char !== undefined && OCTAL.includes(char)) {
      let digits = char;
      while (digits.length < 3 && OCTAL.includes(this.next ?? 'x')) digits += this.take();
      return single(octal(digits, at));
    }
    return single(this.literalEscape(char, at));
  }

  private escape(flags: Flags, at: number): Node {
    const char = this.take();
    if (char !== undefined && 'dDwWsS'.includes(char)) return { kind: 'set', negated: false, items: [{ shorthand: char as Shorthand }], flags };
    if (char !== undefined && 'AZbB'.includes(char)) return { kind: 'anchor', which: char as Anchor, flags };
    if (char === '0') {
      let digits = char;
      while (digits.length < 3 && OCTAL.includes(this.next ?? 'x')) digits += this.take();
      return { kind: 'char', cp: octal(digits, at), flags };
    }
    if (char !== undefined && DIGITS.includes(char)) {
      const two = this.next !== undefined && DIGITS.includes(this.next) ? char + this.next : char;
      const three = two + (this.chars[this.pos + 1] ?? '');
      if (two.length === 2 && /^[0-7]{3}$/.test(three)) {
        this.pos += 2;
        return { kind: 'char', cp: octal(three, at), flags };
      }
      refuse(`backreference \\${two} at position ${at} is not supported: RE2 has no backreferences`);
    }
    return { kind: 'char', cp: this.literalEscape(char, at), flags };
  }

  /** Control escapes (`\n`, `\t`…), `\x` with two hex digits, `\u` with four, `\U` with eight, and escaped punctuation; Python refuses other ASCII letters. */
  private literalEscape(char: string | undefined, at: number): number {
    if (char === undefined) return refuse('bad escape (end of pattern)');
    const simple = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 }[char];
    if (simple !== undefined) return simple;
    const width = { x: 2, u: 4, U: 8 }[char];
    if (width !== undefined) {
      const hex = this.chars.slice(this.pos, this.pos + width).join('');
      if (hex.length !== width || !HEX.test(hex)) refuse(`incomplete escape \\${char}${hex} at position ${at}`);
      this.pos += width;
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) refuse(`bad escape \\${char}${hex} at position ${at}`);
      return cp;
    }
    if (char === 'N') refuse(`named character escape \\N{…} at position ${at} is not supported: write the character itself`);
    if (UNKNOWN_ASCII_LETTER.test(char) || DIGITS.includes(char)) refuse(`bad escape \\${char} at position ${at}`);
    return char.codePointAt(0)!;
  }
}

const single = (cp: number): SetItem => ({ lo: cp, hi: cp });

function octal(digits: string, at: number): number {
  const value = parseInt(digits, 8);
  if (value > 0o377) refuse(`octal escape value \\${digits} outside of range 0-0o377 at position ${at}`);
  return value;
}

function withFlags(flags: Flags, on: Set<string>, off: Set<string>): Flags {
  const state = (flag: 'i' | 'm' | 's') => (on.has(flag) ? true : off.has(flag) ? false : flags[flag]);
  return { i: state('i'), m: state('m'), s: state('s'), a: on.has('a') ? true : on.has('u') ? false : flags.a };
}

/** @throws PatternError */
export function parsePythonPattern(source: string): Parsed {
  return new Reader(source).parse();
}
