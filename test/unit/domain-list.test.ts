import { asciiDomain, asciiDomainOfAddress, DomainList } from '../../src/policy/domain-list';

/** Parses entries that must all be valid. */
function listOf(...entries: string[]): DomainList {
  return DomainList.parse(entries, (index, message) => {
    throw new Error(`entry ${index} ${message}`);
  });
}

/** Parses entries and returns the errors reported, by index. */
function errorsOf(...entries: string[]): Array<[number, string]> {
  const errors: Array<[number, string]> = [];
  DomainList.parse(entries, (index, message) => errors.push([index, message]));
  return errors;
}

const SPELLINGS = ['exämple.org', 'xn--exmple-cua.org', 'EXÄMPLE.ORG', 'XN--EXMPLE-CUA.ORG', 'exämple。org'];

describe('asciiDomain', () => {
  it.each(SPELLINGS)('maps %s to its one ASCII form', (spelling) => {
    expect(asciiDomain(spelling)).toBe('xn--exmple-cua.org');
  });

  it('maps fullwidth letters as UTS-46 does', () => {
    expect(asciiDomain('ｅxample.org')).toBe('example.org');
    expect(asciiDomain('ＥＸＡＭＰＬＥ．ＯＲＧ')).toBe('example.org');
    expect(asciiDomain('straße.de')).toBe('xn--strae-oqa.de');
  });

  it.each([
    ['invalid punycode', 'xn--zz.org'],
    ['an A-label that decodes to ASCII', 'xn--abc-.org'],
    // Node 20 refuses these A-labels itself; newer engines hand them back, and the round trip refuses them.
    ['an A-label of an upper-case letter', 'xn--7ba.org'],
    ['an A-label not in NFC', 'xn--a-ccb.org'],
    ['an A-label of a fullwidth letter', 'xn--mi7c.org'],
    ['an A-label of a soft hyphen', 'xn--ab-5da.org'],
    ['an A-label ending with a hyphen', 'xn----zfa.org'],
    ['an A-label starting with a hyphen', 'xn----0fa.org'],
    ['an empty label', 'a..org'],
    ['a leading dot', '.example.org'],
    ['a trailing dot', 'example.org.'],
    ['a trailing ideographic full stop', 'example.org。'],
    ['an IPv4 address', '127.0.0.1'],
    ['an IPv4 address in another base', '0x7f.1'],
    ['a numeric last label', 'example.123'],
    ['an IPv6 address', '[::1]'],
    ['a percent-encoded dot', 'a.b%2ec'],
    ['a path', 'example.org/path'],
    ['a query', 'example.org?x'],
    ['a fragment', 'example.org#x'],
    ['a backslash', 'example.org\\x'],
    ['a port', 'example.org:80'],
    ['a tab', 'exam\tple.org'],
    ['a newline', 'example.org\n'],
    ['a fullwidth solidus', 'example.org／path'],
    ['a space', 'exa mple.org'],
    ['a surrounding space', ' example.org'],
    ['an underscore', 'a_b.example.org'],
    ['a leading hyphen', '-a.example.org'],
    ['a trailing hyphen', 'a-.example.org'],
    ['a star', '*.example.org'],
    ['an address', 'alice@example.org'],
    ['a URL', 'https://example.org'],
    ['nothing', ''],
    ['a label over 63 characters', `${'a'.repeat(64)}.org`],
    ['a name over 253 characters', `${'a.'.repeat(126)}org`],
  ])('refuses %s', (_what, domain) => {
    expect(asciiDomain(domain)).toBeUndefined();
  });

  it('accepts the longest label and name', () => {
    expect(asciiDomain(`${'a'.repeat(63)}.org`)).toBe(`${'a'.repeat(63)}.org`);
    expect(asciiDomain(`${'a.'.repeat(125)}org`)).toHaveLength(253);
  });

  it('reads the domain after the last @ of an address', () => {
    expect(asciiDomainOfAddress('alice@EXÄMPLE.org')).toBe('xn--exmple-cua.org');
    expect(asciiDomainOfAddress('a@b@example.org')).toBe('example.org');
    expect(asciiDomainOfAddress('alice@xn--zz.org')).toBeUndefined();
    expect(asciiDomainOfAddress('alice@')).toBeUndefined();
    expect(asciiDomainOfAddress('example.org')).toBeUndefined();
  });
});

describe('DomainList', () => {
  it.each(SPELLINGS)('holds %s, however the domain is looked up', (entry) => {
    const list = listOf(entry);
    for (const spelling of SPELLINGS) expect(list.includes(asciiDomain(spelling)!)).toBe(true);
    expect(list.includes('example.org')).toBe(false);
  });

  it('counts two spellings of one domain once', () => {
    expect(listOf(...SPELLINGS, 'ｅxample.org', 'example.org').size).toBe(2);
  });

  it('matches the domains below a *. entry, not the domain itself nor a sibling', () => {
    const list = listOf('*.example.org');
    expect(list.includes('a.example.org')).toBe(true);
    expect(list.includes('a.b.example.org')).toBe(true);
    expect(list.includes('example.org')).toBe(false);
    expect(list.includes('notexample.org')).toBe(false);
    expect(list.includes('a.notexample.org')).toBe(false);
    expect(list.includes('example.org.evil.net')).toBe(false);
    expect(list.includes('org')).toBe(false);
  });

  it('writes a *. entry in any spelling', () => {
    const list = listOf('*.EXÄMPLE.org');
    expect(list.includes('a.xn--exmple-cua.org')).toBe(true);
    expect(list.includes(asciiDomain('Ａ.exämple.org')!)).toBe(true);
    expect(list.includes('xn--exmple-cua.org')).toBe(false);
  });

  it('holds a domain and its subdomains when both forms are listed', () => {
    const list = listOf('example.org', '*.example.org');
    expect(list.size).toBe(2);
    expect(list.includes('example.org')).toBe(true);
    expect(list.includes('a.example.org')).toBe(true);
  });

  it('takes a whole top-level domain as *.tld, in Unicode too', () => {
    const list = listOf('*.org', '*.рф');
    expect(list.includes('example.org')).toBe(true);
    expect(list.includes('a.b.example.org')).toBe(true);
    expect(list.includes(asciiDomain('пример.рф')!)).toBe(true);
    expect(list.includes('example.com')).toBe(false);
  });

  it('matches an exact entry alone', () => {
    const list = listOf('example.org');
    expect(list.includes('example.org')).toBe(true);
    expect(list.includes('a.example.org')).toBe(false);
  });

  it('reports each invalid entry by index, without repeating it, and keeps the others', () => {
    const entries = [
      'example.org', // 0, kept
      '*', // 1
      '*.', // 2
      'a.*.org', // 3
      '.example.org', // 4
      'example.org.', // 5
      ' example.net', // 6
      'alice@example.org', // 7
      'https://example.org/', // 8
      'xn--zz.org', // 9
      'org', // 10
      '*.example.net', // 11, kept
      '**.example.org', // 12
      '*.*.example.org', // 13
      'exa mple.org', // 14
      '127.0.0.1', // 15
    ];
    const errors: Array<[number, string]> = [];
    const list = DomainList.parse(entries, (index, message) => errors.push([index, message]));
    expect(errors.map(([index]) => index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15]);
    expect(errors.find(([index]) => index === 7)![1]).not.toContain('alice');
    expect(list.size).toBe(2);
    expect(list.includes('example.org')).toBe(true);
    expect(list.includes('a.example.net')).toBe(true);
  });

  it('says what is wrong in words an operator can act on', () => {
    expect(errorsOf('alice@example.org')[0][1]).toMatch(/email address/);
    expect(errorsOf('https://example.org')[0][1]).toMatch(/URL/);
    expect(errorsOf('example.org/path')[0][1]).toMatch(/URL/);
    expect(errorsOf('example.org ')[0][1]).toMatch(/space/);
    expect(errorsOf('*')[0][1]).toMatch(/wildcard with no domain/);
    expect(errorsOf('a.*.org')[0][1]).toMatch(/leading `\*\.`/);
    expect(errorsOf('example.org。')[0][1]).toMatch(/dot/);
    expect(errorsOf('xn--zz.org')[0][1]).toMatch(/not a valid domain/);
    expect(errorsOf('com')[0][1]).toMatch(/`\*\.org`/);
  });

  it('reports an entry that is not a string (configuration read from YAML or JSON)', () => {
    expect(errorsOf(...([42, null] as unknown as string[]))).toEqual([
      [0, 'is not a string'],
      [1, 'is not a string'],
    ]);
  });

  it('is empty when empty', () => {
    expect(DomainList.empty.size).toBe(0);
    expect(DomainList.empty.includes('example.org')).toBe(false);
    expect(listOf().size).toBe(0);
  });
});

/**
 * Node 20 refuses an A-label that is not valid punycode, or that decodes to
 * what UTS-46 would not produce; newer engines follow today's URL standard,
 * which no longer checks, and hand it back. Run against such an engine (a
 * stand-in for `node:url` that passes every A-label through and decodes it
 * unchecked), asciiDomain must give the same verdicts.
 */
describe('asciiDomain on an engine that does not check A-labels', () => {
  const real = jest.requireActual<typeof import('node:url')>('node:url');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const punycode = require('node:punycode') as { decode(input: string): string };
  const eachLabel = (domain: string, aLabel: (label: string) => string, other: (label: string) => string) => {
    const labels = domain.split('.').map((label) => (label.toLowerCase().startsWith('xn--') ? aLabel(label.toLowerCase()) : other(label)));
    return labels.includes('') ? '' : labels.join('.');
  };
  const lenient = {
    domainToASCII: (domain: string) => eachLabel(domain, (label) => label, real.domainToASCII),
    domainToUnicode: (domain: string) =>
      eachLabel(
        domain,
        (label) => {
          try {
            return punycode.decode(label.slice(4));
          } catch {
            return label;
          }
        },
        real.domainToUnicode,
      ),
  };
  let lenientAsciiDomain: typeof asciiDomain;
  beforeAll(() => {
    jest.isolateModules(() => {
      jest.doMock('node:url', () => lenient);
      lenientAsciiDomain = (jest.requireActual('../../src/policy/domain-list') as typeof import('../../src/policy/domain-list')).asciiDomain;
    });
  });

  it('is such an engine', () => {
    expect(lenient.domainToASCII('xn--zz.org')).toBe('xn--zz.org');
    expect(lenient.domainToUnicode('xn--7ba.org')).toBe('Ä.org');
  });

  it.each(['xn--zz.org', 'xn--7ba.org', 'xn--a-ccb.org', 'xn--mi7c.org', 'xn--ab-5da.org', 'xn----zfa.org', 'xn--1ug.org', 'xn--abc-.org'])(
    'refuses %s there too',
    (domain) => {
      expect(lenientAsciiDomain(domain)).toBeUndefined();
    },
  );

  it.each(SPELLINGS)('still maps %s to its one ASCII form', (spelling) => {
    expect(lenientAsciiDomain(spelling)).toBe('xn--exmple-cua.org');
  });
});
