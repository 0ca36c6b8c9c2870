import { ThreepidError } from '../../../src/threepid/errors';
import { checkNextLink, nextLinkWithSid } from '../../../src/threepid/next-link';

function refused(nextLink: string, whitelist: readonly string[] | null): ThreepidError {
  try {
    checkNextLink(nextLink, whitelist);
  } catch (err) {
    expect(err).toBeInstanceOf(ThreepidError);
    expect((err as ThreepidError).errcode).toBe('M_INVALID_PARAM');
    return err as ThreepidError;
  }
  throw new Error(`expected ${nextLink} to be refused`);
}

describe('checkNextLink', () => {
  it('accepts http and https URLs', () => {
    expect(checkNextLink('https://app.example.org/#/login', null)).toBe('https://app.example.org/#/login');
    expect(checkNextLink('http://localhost:8080/done', null)).toBe('http://localhost:8080/done');
  });

  it.each([
    ['javascript:alert(1)'],
    ['JavaScript:alert(1)'],
    ['data:text/html,<script>alert(1)</script>'],
    ['ftp://example.org/'],
    ['file:///etc/passwd'],
    ['vbscript:msgbox(1)'],
  ])('refuses the non-http(s) URL %s', (link) => {
    expect(refused(link, null).message).toMatch(/http or https/);
  });

  it.each([['not a url'], [''], ['/relative/path'], ['//example.org/x']])('refuses the invalid URL %j', (link) => {
    expect(refused(link, null).message).toMatch(/not a valid URL/);
  });

  describe('with a whitelist', () => {
    const whitelist = ['app.example.org'];

    it('accepts a whitelisted host, on any path, port or scheme', () => {
      expect(() => checkNextLink('https://app.example.org/welcome', whitelist)).not.toThrow();
      expect(() => checkNextLink('http://app.example.org:8443/x?y=1', whitelist)).not.toThrow();
    });

    it('compares hosts case-insensitively', () => {
      expect(() => checkNextLink('https://APP.Example.ORG/welcome', whitelist)).not.toThrow();
    });

    it.each([
      ['https://evil.org/'],
      ['https://sub.app.example.org/'],
      ['https://app.example.org.evil.org/'],
      ['https://app.example.org@evil.org/'],
      ['https://evil.org/?https://app.example.org/'],
    ])('refuses %s', (link) => {
      expect(refused(link, whitelist).message).toMatch(/not allowed/);
    });

    it('refuses every link with an empty whitelist', () => {
      refused('https://app.example.org/', []);
    });

    it('still refuses other schemes for a whitelisted host', () => {
      expect(refused('ftp://app.example.org/', whitelist).message).toMatch(/http or https/);
    });
  });
});

describe('nextLinkWithSid', () => {
  it('adds sid to a link without a query', () => {
    expect(nextLinkWithSid('https://app.example.org/done', 'abc')).toBe('https://app.example.org/done?sid=abc');
  });

  it('keeps the existing query', () => {
    const url = new URL(nextLinkWithSid('https://app.example.org/done?lang=de&x=1', 'abc'));
    expect(url.searchParams.get('lang')).toBe('de');
    expect(url.searchParams.get('x')).toBe('1');
    expect(url.searchParams.get('sid')).toBe('abc');
  });

  it('replaces any sid already there, rather than adding a second one', () => {
    const url = new URL(nextLinkWithSid('https://app.example.org/done?sid=attacker&sid=again&a=1', 'abc'));
    expect(url.searchParams.getAll('sid')).toEqual(['abc']);
    expect(url.searchParams.get('a')).toBe('1');
  });

  it('keeps the fragment, after the query (Element keeps its routes there)', () => {
    expect(nextLinkWithSid('https://app.example.org/#/register', 'abc')).toBe('https://app.example.org/?sid=abc#/register');
    expect(nextLinkWithSid('https://app.example.org/?a=1#/login?x=y', 'abc')).toBe(
      'https://app.example.org/?a=1&sid=abc#/login?x=y',
    );
  });

  it('encodes the sid', () => {
    expect(new URL(nextLinkWithSid('https://app.example.org/', 'a=b&c')).searchParams.get('sid')).toBe('a=b&c');
  });
});
