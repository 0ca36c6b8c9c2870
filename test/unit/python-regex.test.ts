import { PatternError, compilePythonPattern, endsInAnchor } from '../../src/policy/python-regex';
import { type PythonAnswer, askPython } from '../support/python-re';
import { SeededRandom } from '../support/seeded-random';

// Every row is asked of the real Python `re` (re.match and re.search, or its compile error) and of the
// translation on RE2: the answers must be the same. Rows Python refuses must be refused too.
const AGREES_WITH_PYTHON: Array<readonly [string, string]> = [
  // Synapse's documented examples; a pattern without `$` admits a longer address under re.match.
  ['^[^@]+@matrix\\.org$', 'alice@matrix.org'],
  ['^[^@]+@matrix\\.org$', 'alice@matrix.org.evil.net'],
  ['^[^@]+@matrix\\.org$', 'alice@evil.net'],
  ['^[^@]+@vector\\.im$', 'bob@vector.im'],
  ['^[^@]+@vector\\.im$', 'bob@vector.imx'],
  ['^44\\d{10}$', '447700900123'],
  ['^44\\d{10}$', '4477009001234'],
  ['^44\\d{10}$', '337700900123'],
  ['^[^@]+@matrix\\.org', 'a@matrix.org.evil.net'],
  ['[^@]+@example\\.org', 'x@example.org.evil.net'],
  ['@example\\.org', 'a@example.org'],
  ['^[^@]+@bücher\\.de$', 'jörg@bücher.de'],
  // Named groups, anchors.
  ['^(?P<user>[^@]+)@(?P<domain>example\\.org)$', 'a@example.org'],
  ['^(?P<é>x)$', 'x'],
  ['(?P<1a>x)', 'x'],
  ['(?P<n>a)|(?P<n>b)', 'a'],
  ['a\\Z', 'a'],
  ['a\\Z', 'ab'],
  ['\\Aa', 'ba'],
  ['a$', 'a'],
  ['(?m)^b$', 'a\nb\nc'],
  // Inline and scoped flags.
  ['(?i)^ALICE@EXAMPLE\\.ORG$', 'alice@example.org'],
  ['(?i)(?m)^a$', 'b\nA'],
  ['(?#note)(?i)a', 'A'],
  ['(?s)^a.b$', 'a\nb'],
  ['^a.b$', 'a\nb'],
  ['(?i:a)b', 'Ab'],
  ['(?i:a)b', 'AB'],
  ['(?i)(?-i:a)b', 'aB'],
  ['(?i)(?-i:a)b', 'AB'],
  ['(?s-i:a.)', 'A\n'],
  ['(?i-s:a.)', 'A\n'],
  ['(?i)(?s:(?m:^a.$))', 'A\n'],
  ['a(?i)b', 'aB'],
  ['^(?i)b', 'B'],
  ['(?-i)a', 'a'],
  ['(?i-i:a)', 'a'],
  ['(?-:a)', 'a'],
  ['(?i', 'a'],
  ['(?i-', 'a'],
  ['(?i-s', 'a'],
  ['(?iq)a', 'a'],
  ['(?i-q:a)', 'a'],
  ['(?au)a', 'a'],
  ['(?-a:x)', 'x'],
  ['(?L)a', 'a'],
  ['(?u)^\\w$', 'é'],
  ['(?a)^\\w$', 'é'],
  ['(?a)^\\w$', 'a'],
  ['(?a:\\d)', '٣'],
  // Not `(?a)(?u:\d)` alone: Python's search then skips ahead by the global (ASCII) flags and finds
  // nothing although match succeeds, a quirk of CPython's prefix optimisation, not of the syntax.
  ['(?a)x(?u:\\d)', 'yx٣'],
  ['(?#comment)a(?#x)*$', 'aaa'],
  ['(?#unterminated', 'x'],
  ['a(?#x)', 'a'],
  ['(?a)\\bfoo\\b', 'a foo.'],
  ['(?a)\\bfoo\\b', 'afoo'],
  ['(?a)\\Bo', 'foo'],
  // ASCII-only case folding under (?a).
  ['(?ai)k', '\u212a'],
  ['(?ai)k', 'K'],
  ['(?ai)^[a-z]+$', 'ABC'],
  ['(?ai)é', 'É'],
  ['(?i)é', 'É'],
  ['(?i)(?a:s)', 'ſ'],
  ['(?ai)[^k]', 'K'],
  // Unicode \d, \w, \s (RE2's are ASCII).
  ['^\\d+$', '٣'],
  ['^\\d$', '²'],
  ['(?a)^\\d$', '٣'],
  ['\\D', '٣'],
  ['[\\D]', 'a'],
  ['[^\\d]', '٣'],
  ['(?a)[\\D]', '٣'],
  ['^\\w+$', 'é'],
  ['^\\w+$', 'ß'],
  ['^\\w+$', '中文'],
  ['^\\w$', 'e\u0301'],
  ['^\\w$', '\u0301'],
  ['^\\w$', '_'],
  ['^\\w$', '½'],
  ['^\\W', '\u0301'],
  ['^\\W', 'é'],
  ['^[\\W]', 'é'],
  ['^[\\Wx]', 'x'],
  ['^[\\Wx]', 'é'],
  ['^[\\Wx]', '-'],
  ['^[^\\W]', 'é'],
  ['^[^\\W]', '-'],
  ['(?a)^[^\\W]', 'é'],
  ['(?a)^[\\W]', 'é'],
  ['\\s', '\u3000'],
  ['\\s', '\x1c'],
  ['\\s', '\x0b'],
  ['(?a)\\s', '\x0b'],
  ['(?a)\\s', '\u3000'],
  ['\\s', '\u200b'],
  ['^\\S', '\u3000'],
  ['^[\\S]', 'a'],
  ['^[^\\s]', '\xa0'],
  ['(?a)^[\\S]', '\x1c'],
  // `{` that is no quantifier is a literal; `{,n}` counts from 0.
  ['^a{,3}$', 'aaa'],
  ['^a{,3}$', 'aaaa'],
  ['a{', 'a{'],
  ['^a{1$', 'a{1'],
  ['^x{}$', 'x{}'],
  ['^a{x}', 'a{x}'],
  ['^x{,}$', 'xxx'],
  ['^x{,}$', 'x{,}'],
  ['^{', '{'],
  ['^a{ 1}$', 'a{ 1}'],
  ['^a{2}$', 'aa'],
  ['^a{2,}$', 'a'],
  ['^a{1,2$', 'a{1,2'],
  ['^a{3,2}', 'a'],
  ['^(?:ab){2}$', 'abab'],
  // `]` first and `[` inside a class.
  ['^[]a]+$', ']a'],
  ['^[^]]$', ']'],
  ['^[[:alpha:]]+$', ':a['],
  ['^[[:alpha:]]$', 'b'],
  ['^[a-]$', '-'],
  ['^[\\w-]$', '-'],
  ['^[-a]$', '-'],
  ['[a-\\d]', 'a'],
  ['[\\d-z]', 'a'],
  ['[z-a]', 'a'],
  ['^[\\b]$', '\b'],
  ['[\\A]', 'A'],
  ['[', 'x'],
  ['[a-', 'x'],
  ['^[\\]]$', ']'],
  ['^[.]$', 'a'],
  ['^[\\^]$', '^'],
  // Escapes.
  ['^\\x41$', 'A'],
  ['^\\u00e9$', 'é'],
  ['^\\U0001F600$', '😀'],
  ['^\\0$', '\0'],
  ['^\\012$', '\n'],
  ['^\\101$', 'A'],
  ['^[\\12]$', '\n'],
  ['^[\\0]$', '\0'],
  ['a\\01', 'a\x01'],
  ['[\\01', 'a'],
  ['\\400', 'x'],
  ['[\\400]', 'x'],
  ['[\\8]', '8'],
  ['\\x4', 'x'],
  ['\\U00110000', 'x'],
  ['\\e', 'x'],
  ['\\z', 'x'],
  ['^\\@\\-\\ \\#$', '@- #'],
  ['^\\é$', 'é'],
  ['^\\t\\n\\r\\f\\v\\a\\\\$', '\t\n\r\f\v\x07\\'],
  ['\\', 'x'],
  // Case folding: RE2 folds as Python, but for the Turkish i (translated).
  ['(?i)s', 'ſ'],
  ['(?i)ſ', 'S'],
  ['(?i)k', '\u212a'],
  ['(?i)\u212a', 'k'],
  ['(?i)i', 'İ'],
  ['(?i)i', 'ı'],
  ['(?i)I', 'ı'],
  ['(?i)ı', 'I'],
  ['(?i)^[a-z]+$', 'İı'],
  ['(?i)^[^i]', 'ı'],
  ['(?i)^[^\\d]', 'İ'],
  ['(?i)ß', 'ẞ'],
  ['(?i)σ', 'ς'],
  ['(?i)ﬀ', 'ff'],
  // `.` and newlines, astral characters.
  ['^.$', '\n'],
  ['(?s)^.$', '\n'],
  ['^.$', '😀'],
  ['^a.c$', 'a\u3000c'],
  // Alternation, lazy quantifiers, groups.
  ['^(a|b)c$', 'bc'],
  ['^a|b$', 'xb'],
  ['^(?:foo|bar)@example\\.org$', 'bar@example.org'],
  ['a||b', 'c'],
  ['^a+?$', 'aaa'],
  ['^a*?b', 'aab'],
  ['^a{2,3}?$', 'aaa'],
  ['^a??$', 'a'],
  ['^(?:a|bc){2}$', 'bca'],
  ['^()*$', ''],
  // Python's own errors.
  ['a**', ''],
  ['(', ''],
  [')', ''],
  ['^*', 'a'],
  ['a|*', 'a'],
  ['(?)', 'a'],
  ['(?', 'a'],
  ['(?Pa)', 'a'],
  ['(?P<a', 'a'],
  ['(?P<>a)', 'a'],
];

let python: PythonAnswer[];
beforeAll(() => {
  python = askPython(AGREES_WITH_PYTHON);
});

function ours(pattern: string, text: string): PythonAnswer {
  try {
    const compiled = compilePythonPattern(pattern);
    return { match: compiled.matchesAtStart(text), search: compiled.matchesAnywhere(text) };
  } catch (error) {
    if (!(error instanceof PatternError)) throw error;
    return { error: error.message };
  }
}

it.each(AGREES_WITH_PYTHON.map(([pattern, text], index) => [pattern, JSON.stringify(text), index] as const))(
  '%s on %s answers as Python does',
  (pattern, _text, index) => {
    const theirs = python[index];
    const mine = ours(pattern, AGREES_WITH_PYTHON[index][1]);
    if ('error' in theirs) expect(mine).toEqual({ error: expect.any(String) });
    else expect(mine).toEqual(theirs);
  },
);

// Python accepts each of these; RE2 cannot run it as Python would, so it is refused by name.
const REFUSED: Array<readonly [string, RegExp]> = [
  ['(?P<n>a)(?P=n)', /backreference \(\?P=n\)/],
  ['(a)\\1', /backreference \\1/],
  ['(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)\\11', /backreference \\11/],
  ['(?=a)', /lookahead/],
  ['(?!a)', /lookahead/],
  ['(?<=a)b', /lookbehind/],
  ['(?<!a)b', /lookbehind/],
  ['(a)?(?(1)b|c)', /conditional/],
  ['(?>a)', /atomic group/],
  ['a*+', /possessive quantifier \*\+/],
  ['a++', /possessive quantifier \+\+/],
  ['a?+', /possessive quantifier \?\+/],
  ['a{1,2}+', /possessive quantifier \{\+/],
  ['(?x)a b', /verbose mode \(\?x\)/],
  ['(?-x:a)', /verbose mode \(\?x\)/],
  ['\\N{LATIN SMALL LETTER A}', /named character escape \\N/],
  ['\\bfoo', /\\b \(word boundary\)/],
  ['a\\B', /\\B \(word boundary\)/],
  ['a{1001}', /repeat count \{1001\} .* RE2's limit of 1000/],
  ['a{0,1001}', /RE2's limit of 1000/],
  ['[^\\Wx]', /negated class holding \\W/],
  ['(a{1000}){1000}', /RE2 cannot run it .*invalid repeat count/],
];

it.each(REFUSED)('refuses %s, which Python accepts, naming the construct', (pattern, message) => {
  expect(() => compilePythonPattern(pattern)).toThrow(PatternError);
  expect(() => compilePythonPattern(pattern)).toThrow(message);
  expect(askPython([[pattern, '']])[0]).not.toHaveProperty('error');
});

it('refuses (?L) and the template flag as Python does for a str pattern, with a PatternError', () => {
  expect(() => compilePythonPattern('(?L)a')).toThrow(/'L' flag/);
  expect(() => compilePythonPattern('(?t)a')).toThrow(/template flag/);
});

it('translates to the RE2 forms it documents', () => {
  const translated = (source: string) => compilePythonPattern(source).translated;
  expect(translated('^(?P<user>[^@]+)@example\\.org\\Z')).toBe('^(?P<user>[^@]+)@example\\.org\\z');
  expect(translated('^(?P<é>x)')).toBe('^(x)');
  expect(translated('x{,3}y{2,}z{,}{')).toBe('x{0,3}y{2,}z*\\{');
  expect(translated('[]a[:b]')).toBe('[\\]a\\[:b]');
  expect(translated('(?i)k(?a:k)')).toBe('(?i)k(?-i:[kK])');
  expect(translated('(?i)i')).toBe('(?i)[iIİı]');
  expect(compilePythonPattern('^a$').source).toBe('^a$');
});

it('does not differ from Python on `$` for addresses: only before a final newline, which addresses never hold', () => {
  expect(askPython([['a$', 'a\n']])[0]).toEqual({ match: true, search: true });
  expect(compilePythonPattern('a$').matchesAtStart('a\n')).toBe(false);
});

it('runs in linear time: the classic catastrophic patterns simply complete', () => {
  const hostile = 'a'.repeat(5000) + '!';
  expect(compilePythonPattern('(a+)+$').matchesAnywhere(hostile)).toBe(false);
  expect(compilePythonPattern('^(a+)+$').matchesAtStart(hostile)).toBe(false);
  expect(compilePythonPattern('(x+x+)+y').matchesAnywhere('x'.repeat(5000))).toBe(false);
});

it.each([
  ['^[^@]+@example\\.org$', true],
  ['^a\\Z', true],
  ['a$(?#end)', true],
  ['(?m)^a$', true],
  ['^a\\$', false],
  ['^(a$)', true],
  ['^a$|^b$', true],
  ['^a$|^b', false],
  ['^[^@]+@example\\.org', false],
  ['^a$b', false],
  ['(', false],
  ['', false],
] as const)('endsInAnchor(%s) is %s', (source, expected) => {
  expect(endsInAnchor(source)).toBe(expected);
});

// Beyond the table: patterns strung together from the pieces above, reproducibly (seeded), each
// asked of Python and of the translation on the same texts. Python's errors must be ours too; a
// pattern Python accepts may be refused only for one of the constructs named above.
it('agrees with Python on 600 patterns strung from the pieces the table covers', () => {
  const pieces = ['a', 'b', 'I', 'ı', '.', '\\d', '\\w', '\\s', '\\W', '\\S', '[ab]', '[^a]', '[a-c]', '[]a]', '[\\w.-]', '(', ')',
    '(?:', '(?i:', '(?-i:', '(?a:', '(?s:', '|', '*', '+', '?', '*?', '{2}', '{,2}', '{1,}', '{', '}', '^', '$', '\\Z', '\\A',
    '@', '\\.', '-', '\\x41', '\\0', '[', ']', '\\b', ',', '1', '٣', 'é', 'ß'];
  const texts = ['', 'a', 'ab', 'aab', 'A', 'I', 'İ', 'a@b.c', '1', '٣', 'é', 'ß', '\u3000', '{2}', 'a{', 'ba', 'a\nb', '-'];
  const random = new SeededRandom(20261206);
  const pick = <T>(list: readonly T[]) => list[random.bytes(1)[0] % list.length];
  const patterns = Array.from({ length: 600 }, () => {
    let pattern = pick(['', '(?i)', '(?a)', '(?s)']);
    for (let count = 1 + (random.bytes(1)[0] % 8); count > 0; count--) pattern += pick(pieces);
    return pattern;
  });
  const pairs = patterns.flatMap((pattern) => texts.map((text) => [pattern, text] as const));
  const answers = askPython(pairs);
  const disagreements = pairs.flatMap(([pattern, text], index) => {
    const theirs = answers[index];
    const mine = ours(pattern, text);
    if ('error' in mine && !('error' in theirs) && /not supported|RE2 cannot|cannot be expressed|limit of 1000/.test(mine.error)) return [];
    const same = 'error' in theirs ? 'error' in mine : JSON.stringify(mine) === JSON.stringify(theirs);
    return same ? [] : [{ pattern, text, python: theirs, ours: mine }];
  });
  expect(disagreements).toEqual([]);
});
