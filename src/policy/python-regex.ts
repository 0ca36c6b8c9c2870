import { RE2JS } from 're2js';
import { type Flags, type Node, type SetItem, type Shorthand, PatternError, parsePythonPattern } from './python-regex-syntax';

export { PatternError } from './python-regex-syntax';

export interface PythonPattern {
  /** As the operator wrote it. */
  readonly source: string;
  /** The RE2 pattern it runs as. */
  readonly translated: string;
  /** Python's `re.match`: a match that starts at the first character (it may end before the last). */
  matchesAtStart(text: string): boolean;
  /** Python's `re.search`: a match anywhere. */
  matchesAnywhere(text: string): boolean;
}

type Ranges = Array<[number, number]>;

const MAX = 0x10ffff;
const ASCII_DIGIT: Ranges = [[0x30, 0x39]];
const ASCII_WORD: Ranges = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const ASCII_SPACE: Ranges = [[0x09, 0x0d], [0x20, 0x20]];
/** Python's `str.isspace()`: RE2's `\s` is ASCII only, and has no `\v`. */
const UNICODE_SPACE: Ranges = [
  [0x09, 0x0d], [0x1c, 0x20], [0x85, 0x85], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
  [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
];
/**
 * Python's `str.isalnum()` or `_` is every letter and every number: `[\p{L}\p{N}_]` (combining
 * marks are neither). RE2's Unicode tables are newer than Python 3.11's (Unicode 14): letters and
 * digits assigned since then count here and not in Python 3.11, and do in a newer Python.
 */
const UNICODE_WORD = '\\p{L}\\p{N}_';
/**
 * Under IGNORECASE Python folds `i`, `I`, `İ` (U+0130) and `ı` (U+0131) together (sre compares simple
 * lower cases, and adds `ı` to `i`'s; `İ` lowers to `i`); RE2 folds by Unicode's simple case folding,
 * where the two Turkish letters fold to nothing. Every other case pair of Python 3.11 (`ſ`/`s`, the
 * Kelvin sign `K`/`k`, `ß`/`ẞ`, `ς`/`σ`, …) RE2 folds alike: checked over every code point.
 */
const TURKISH_I = [0x49, 0x69, 0x130, 0x131];

function complement(ranges: Ranges): Ranges {
  const out: Ranges = [];
  let from = 0;
  for (const [lo, hi] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (lo > from) out.push([from, lo - 1]);
    from = Math.max(from, hi + 1);
  }
  // Every shorthand stops short of U+10FFFF, so something always remains above it.
  out.push([from, MAX]);
  return out;
}

/** A code point as RE2 reads it literally, in or out of a class. */
function literal(cp: number): string {
  if (/^[A-Za-z0-9 ]$/.test(String.fromCodePoint(cp))) return String.fromCodePoint(cp);
  if (cp > 0x20 && cp < 0x7f) return '\\.+*?()|[]{}^$-'.includes(String.fromCodePoint(cp)) ? `\\${String.fromCodePoint(cp)}` : String.fromCodePoint(cp);
  if (cp >= 0xa0 && /^[\p{L}\p{N}\p{M}\p{S}\p{P}]$/u.test(String.fromCodePoint(cp))) return String.fromCodePoint(cp);
  return `\\x{${cp.toString(16)}}`;
}

const rangeText = ([lo, hi]: [number, number]) => (lo === hi ? literal(lo) : `${literal(lo)}-${literal(hi)}`);

/** A shorthand as class members: explicit ranges, or RE2 class text (Unicode `\W` has none: `negatedOnly`). */
function shorthand(letter: Shorthand, flags: Flags): { ranges?: Ranges; text?: string; negatedOnly?: string } {
  const lower = letter.toLowerCase();
  const negated = letter !== lower;
  if (lower === 's' || flags.a) {
    const ranges = lower === 's' ? (flags.a ? ASCII_SPACE : UNICODE_SPACE) : lower === 'd' ? ASCII_DIGIT : ASCII_WORD;
    return { ranges: negated ? complement(ranges) : ranges };
  }
  if (lower === 'd') return { text: negated ? '\\P{Nd}' : '\\p{Nd}' };
  return negated ? { negatedOnly: UNICODE_WORD } : { text: UNICODE_WORD };
}

/** Case variants RE2's folding would miss, added to the class itself. */
function foldRanges(ranges: Ranges, flags: Flags): Ranges {
  if (!flags.i) return ranges;
  const extra: Ranges = [];
  const touches = (cps: number[]) => cps.some((cp) => ranges.some(([lo, hi]) => lo <= cp && cp <= hi));
  if (flags.a) {
    // Python's ASCII IGNORECASE folds ASCII letters only (no `ſ`, no Kelvin sign): done here, RE2's `i` stays off.
    for (const [lo, hi] of ranges) {
      for (const [from, to, shift] of [[0x41, 0x5a, 0x20], [0x61, 0x7a, -0x20]]) {
        const a = Math.max(lo, from);
        const b = Math.min(hi, to);
        if (a <= b) extra.push([a + shift, b + shift]);
      }
    }
  } else if (touches(TURKISH_I)) for (const cp of TURKISH_I) if (!touches([cp])) extra.push([cp, cp]);
  return [...ranges, ...extra];
}

function emitSet(node: Extract<Node, { kind: 'set' }>): string {
  const ranges: Ranges = [];
  const texts: string[] = [];
  let negatedOnly: string | undefined;
  for (const item of node.items as SetItem[]) {
    if ('lo' in item) ranges.push([item.lo, item.hi]);
    else {
      const part = shorthand(item.shorthand, node.flags);
      if (part.ranges) ranges.push(...part.ranges);
      if (part.text) texts.push(part.text);
      if (part.negatedOnly) negatedOnly = part.negatedOnly;
    }
  }
  const body = [...foldRanges(ranges, node.flags).map(rangeText), ...texts].join('');
  if (negatedOnly !== undefined) {
    if (body === '') return node.negated ? `[${negatedOnly}]` : `[^${negatedOnly}]`;
    if (node.negated) throw new PatternError('a negated class holding \\W and other members cannot be expressed in RE2 (Unicode \\W has no RE2 class)');
    return `(?:[^${negatedOnly}]|[${body}])`;
  }
  if (!node.negated && ranges.length === 0 && texts.length === 1 && /^\\[pP]\{\w+\}$/.test(texts[0])) return texts[0];
  return `[${node.negated ? '^' : ''}${body}]`;
}

const RE2_FLAGS = (flags: Flags) => ({ i: flags.i && !flags.a, m: flags.m, s: flags.s });

function flagGroup(inner: Flags, outer: Flags): string {
  const a = RE2_FLAGS(inner);
  const b = RE2_FLAGS(outer);
  const letters = (['i', 'm', 's'] as const).filter((f) => a[f] !== b[f]);
  const on = letters.filter((f) => a[f]).join('');
  const off = letters.filter((f) => !a[f]).join('');
  return letters.length === 0 ? '(?:' : `(?${on}${off ? `-${off}` : ''}:`;
}

function emit(node: Node, outer: Flags): string {
  switch (node.kind) {
    case 'char': {
      const { cp, flags } = node;
      if (flags.i && (flags.a ? /^[A-Za-z]$/.test(String.fromCodePoint(cp)) : TURKISH_I.includes(cp))) {
        return emitSet({ kind: 'set', negated: false, items: [{ lo: cp, hi: cp }], flags });
      }
      return literal(cp);
    }
    case 'set':
      return emitSet(node);
    case 'dot':
      return '.';
    case 'anchor':
      if (node.which === 'b' || node.which === 'B') {
        // RE2's \b knows ASCII word characters only: right under (?a), wrong for Python's Unicode \w.
        if (!node.flags.a) throw new PatternError(`\\${node.which} (word boundary) is not supported without (?a): RE2's is ASCII only, Python's is Unicode`);
        return `\\${node.which}`;
      }
      // Python's `$` (no `m`) also matches before a final newline, RE2's only at the end: the same on
      // addresses, which never hold a newline. `\Z` is RE2's `\z`.
      return node.which === 'A' ? '\\A' : node.which === 'Z' ? '\\z' : node.which;
    case 'group': {
      const open = node.capture ? (node.name && /^[A-Za-z_]\w*$/.test(node.name) ? `(?P<${node.name}>` : '(') : flagGroup(node.flags, outer);
      return `${open}${emit(node.body, node.flags)})`;
    }
    case 'repeat': {
      const { min, max } = node;
      const count = max === Infinity ? (min === 0 ? '*' : min === 1 ? '+' : `{${min},}`) : min === 0 && max === 1 ? '?' : min === max ? `{${min}}` : `{${min},${max}}`;
      // The body is one atom or a group, as in Python: `ab*` repeats `b`.
      return `${emit(node.body, outer)}${count}${node.lazy ? '?' : ''}`;
    }
    case 'seq':
      return node.items.map((item) => emit(item, outer)).join('');
    case 'alt':
      return node.branches.map((branch) => emit(branch, outer)).join('|');
  }
}

function flagPrefix(flags: Flags): string {
  const re2 = RE2_FLAGS(flags);
  const letters = (['i', 'm', 's'] as const).filter((f) => re2[f]).join('');
  return letters ? `(?${letters})` : '';
}

/** One class of a parsed pattern, alone, as RE2 reads it (for picking a member of it). */
export function translateSet(node: Extract<Node, { kind: 'set' }>): string {
  return `${flagPrefix(node.flags)}${emitSet(node)}`;
}

/** The RE2 pattern for a Python pattern. @throws PatternError */
export function translate(source: string): string {
  const { flags, root } = parsePythonPattern(source);
  return `${flagPrefix(flags)}${emit(root, flags)}`;
}

/** @throws PatternError */
export function compilePythonPattern(source: string): PythonPattern {
  const translated = translate(source);
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(translated);
  } catch (error) {
    throw new PatternError(`RE2 cannot run it (as ${translated}): ${(error as Error).message}`);
  }
  return {
    source,
    translated,
    matchesAtStart: (text) => compiled.matcher(text).lookingAt(),
    matchesAnywhere: (text) => compiled.matcher(text).find(),
  };
}

/**
 * True when every way through the node ends at `$` or `\Z`: the last item of a sequence, each
 * branch of an alternation, a group's body. A repeat counts as not ending there (it may be skipped).
 */
function endsAtAnchor(node: Node): boolean {
  switch (node.kind) {
    case 'anchor':
      return node.which === '$' || node.which === 'Z';
    case 'group':
      return endsAtAnchor(node.body);
    case 'alt':
      return node.branches.every(endsAtAnchor);
    case 'seq':
      return node.items.length > 0 && endsAtAnchor(node.items[node.items.length - 1]);
    default:
      return false;
  }
}

/**
 * True when the pattern cannot match a prefix only: every way through it ends in `$` or `\Z` (not
 * an escaped `\$`), `^a$|^b$` and `(?:^a$)` as well as `^a$`.
 */
export function endsInAnchor(source: string): boolean {
  let root: Node;
  try {
    root = parsePythonPattern(source).root;
  } catch {
    return false;
  }
  return endsAtAnchor(root);
}
