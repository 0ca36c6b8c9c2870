import { RE2JS } from 're2js';
import { type Node, parsePythonPattern } from './python-regex-syntax';
import { compilePythonPattern, endsInAnchor, translateSet } from './python-regex';

const SUFFIXES = { email: ['.attacker.example', '-attacker.example', 'attacker.example'], msisdn: ['0000', '1', '9'] };
/** Enough candidates to reach past a few alternations, few enough to stay instant. */
const MOST = 16;
/** A class's representative: lower-case letters first, then digits, then what an address holds. */
const CANDIDATES = [
  ...'abcdefghijklmnopqrstuvwxyz0123456789',
  ...'._-+@ ',
  ...Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)),
  ...'éß中٣\u3000',
];

function representative(node: Extract<Node, { kind: 'set' }>): string[] {
  const only = RE2JS.compile(`^(?:${translateSet(node)})$`);
  const found = CANDIDATES.find((candidate) => only.matcher(candidate).matches());
  return found === undefined ? [] : [found];
}

function product(left: string[], right: string[]): string[] {
  return left.flatMap((a) => right.map((b) => a + b)).slice(0, MOST);
}

/** Short strings the node matches, as spelled out: literals as written, one pass through each repeat. */
function examples(node: Node): string[] {
  switch (node.kind) {
    case 'char':
      return [String.fromCodePoint(node.cp)];
    case 'set':
      return representative(node);
    case 'dot':
      return ['a'];
    case 'anchor':
      return [''];
    case 'group':
      return examples(node.body);
    case 'repeat': {
      const times = node.max === 0 ? 0 : Math.max(node.min, 1);
      const once = examples(node.body);
      return once.map((text) => text.repeat(times));
    }
    case 'seq':
      return node.items.reduce((sofar, item) => product(sofar, examples(item)), ['']);
    case 'alt':
      return node.branches.flatMap(examples).slice(0, MOST);
  }
}

/**
 * For `--check`: an address a pattern admits under `re.match` although it goes on past what the
 * pattern spelled out, e.g. `^[^@]+@example\.org` → `a@example.org.attacker.example`; undefined when
 * the pattern ends in an anchor, or no such address is found.
 */
export function looseEndExample(source: string, medium: 'email' | 'msisdn'): string | undefined {
  if (endsInAnchor(source)) return undefined;
  let pattern;
  try {
    pattern = compilePythonPattern(source);
  } catch {
    return undefined;
  }
  for (const stem of examples(parsePythonPattern(source).root)) {
    for (const suffix of SUFFIXES[medium]) {
      const address = stem + suffix;
      if (medium === 'msisdn' && !/^\d+$/.test(address)) continue;
      if (pattern.matchesAtStart(address)) return address;
    }
  }
  return undefined;
}
