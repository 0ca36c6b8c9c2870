import { canonicaliseEmail, maskEmail, MAX_EMAIL_LENGTH } from '../../../src/threepid/email';
import { ThreepidError } from '../../../src/threepid/errors';
import { thrown as thrownBy } from '../../support/thrown';

const thrown = (fn: () => unknown): ThreepidError => thrownBy(ThreepidError, fn);

function expectRejected(input: string): void {
  expect(thrown(() => canonicaliseEmail(input)).errcode).toBe('M_INVALID_PARAM');
}

describe('canonicaliseEmail', () => {
  describe('canonical form', () => {
    it('trims surrounding whitespace', () => {
      expect(canonicaliseEmail('  alice@example.com \t\n')).toBe('alice@example.com');
    });

    it('lower-cases ASCII', () => {
      expect(canonicaliseEmail('ALICE@EXAMPLE.COM')).toBe('alice@example.com');
      expect(canonicaliseEmail('Alice@Example.Com')).toBe('alice@example.com');
    });

    it('case-folds with the full mappings (ß becomes ss)', () => {
      expect(canonicaliseEmail('Strauß@Example.com')).toBe('strauss@example.com');
      expect(canonicaliseEmail('STRAUSS@example.com')).toBe(canonicaliseEmail('strauß@example.com'));
    });

    it('folds capital sharp s (U+1E9E) to ss as well', () => {
      // Regression: upper-then-lower turned ẞ into ß, which a second pass turned into ss.
      expect(canonicaliseEmail('STRAẞE@example.com')).toBe('strasse@example.com');
      expect(canonicaliseEmail('STRAẞE@example.com')).toBe(canonicaliseEmail('Straße@example.com'));
    });

    it('lower-cases the domain without folding it (ß, final sigma and dotless i stay)', () => {
      expect(canonicaliseEmail('User@Straße.DE')).toBe('user@straße.de');
      expect(canonicaliseEmail('x@σοφιας.GR')).toBe('x@σοφιας.gr');
      expect(canonicaliseEmail('x@ILIK.ılık.com.tr')).toBe('x@ilik.ılık.com.tr');
    });

    it.each([[' Strauß@Example.COM '], ['STRAẞE@example.com'], ['ΟΔΟΣ@example.com'], ['José@Example.com'], ['Ali@ılık.COM.TR'], ['x@σοφιας.gr']])(
      'is idempotent (%s)',
      (input) => {
        const once = canonicaliseEmail(input);
        expect(canonicaliseEmail(once)).toBe(once);
      },
    );
  });

  describe('accepted addresses', () => {
    it('keeps plus-addressing', () => {
      expect(canonicaliseEmail('alice+matrix@example.com')).toBe('alice+matrix@example.com');
    });

    it('accepts a Unicode local part', () => {
      expect(canonicaliseEmail('José@example.com')).toBe('josé@example.com');
      expect(canonicaliseEmail('用户@example.com')).toBe('用户@example.com');
    });

    it('accepts dots and subdomains', () => {
      expect(canonicaliseEmail('first.last@mail.example.co.uk')).toBe('first.last@mail.example.co.uk');
    });
  });

  describe('rejected addresses', () => {
    it('rejects an empty or blank address', () => {
      expect(thrown(() => canonicaliseEmail('')).message).toMatch(/empty/);
      expect(thrown(() => canonicaliseEmail('   ')).message).toMatch(/empty/);
    });

    it(`rejects more than ${MAX_EMAIL_LENGTH} characters`, () => {
      const long = `${'a'.repeat(MAX_EMAIL_LENGTH)}@example.com`;
      expect(thrown(() => canonicaliseEmail(long)).message).toMatch(/longer than 500/);
    });

    it.each([
      ['CR', 'alice@example.com\rBcc: eve@evil.org'],
      ['LF', 'alice@example.com\nBcc: eve@evil.org'],
      ['CRLF inside', 'ali\r\nce@example.com'],
      ['NUL', 'alice\u0000@example.com'],
      ['U+2028', 'alice\u2028@example.com'],
      ['U+2029', 'alice@example.com\u2029x'],
      ['DEL', 'alice\u007f@example.com'],
      ['tab inside', 'ali\tce@example.com'],
    ])('rejects a control character (%s)', (_name, input) => {
      expect(thrown(() => canonicaliseEmail(input)).message).toMatch(/control character/);
    });

    it('rejects two @ signs', () => {
      expect(thrown(() => canonicaliseEmail('a@b.com@c.com')).message).toMatch(/ambiguous/);
    });

    it('rejects quoted local parts, even the CVE-2019-11340 shape', () => {
      expectRejected('"alice"@example.com');
      expectRejected('"a@b.com"@c.com');
      expectRejected('"a b"@example.com');
    });

    it('rejects display names', () => {
      expectRejected('Alice <a@b.com>');
      expectRejected('<a@b.com>');
    });

    it('rejects an address without a domain', () => {
      expectRejected('alice');
      expectRejected('alice@');
      expectRejected('@example.com');
      expectRejected('alice@localhost');
    });

    it('rejects an IP-literal domain', () => {
      expectRejected('alice@[127.0.0.1]');
      expectRejected('alice@[IPv6:::1]');
      expectRejected('alice@127.0.0.1');
    });

    it('rejects other malformed addresses', () => {
      expectRejected('alice@exa mple.com');
      expectRejected('alice..bob@example.com');
      expectRejected('alice@example..com');
    });
  });
});

describe('maskEmail', () => {
  it('keeps the first character and the domain', () => {
    expect(maskEmail('alice@example.com')).toBe('a***@example.com');
  });

  it('masks everything when there is no local part or no @', () => {
    expect(maskEmail('@example.com')).toBe('***');
    expect(maskEmail('not-an-address')).toBe('***');
    expect(maskEmail('')).toBe('***');
  });

  it('uses the last @', () => {
    expect(maskEmail('a@b@example.com')).toBe('a***@example.com');
  });
});
