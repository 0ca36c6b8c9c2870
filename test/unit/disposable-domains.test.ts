import { readFileSync } from 'node:fs';
import {
  DISPOSABLE_DOMAINS_PUBLISHED_ON,
  disposableDomains,
  disposableDomainsOf,
} from '../../src/policy/disposable-domains';
import { asciiDomain, asciiDomainOfAddress } from '../../src/policy/domain-list';

const installedVersion = (
  JSON.parse(readFileSync(require.resolve('disposable-email-domains-js/package.json'), 'utf8')) as { version: string }
).version;

describe('the disposable-domain list of the installed package', () => {
  const list = disposableDomains();

  it('names its source and the version installed', () => {
    expect(list.source).toBe('disposable-email-domains-js');
    expect(list.version).toBe(installedVersion);
  });

  // On failure: the dependency was bumped. Record the day the new version
  // was published (`npm view disposable-email-domains-js time`) in the table.
  it('knows the day the installed version was published', () => {
    expect(Object.keys(DISPOSABLE_DOMAINS_PUBLISHED_ON)).toContain(installedVersion);
    expect(list.publishedOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(list.publishedOn).toBe(DISPOSABLE_DOMAINS_PUBLISHED_ON[installedVersion]);
  });

  it('holds thousands of domains, and skips few entries', () => {
    expect(list.size).toBeGreaterThan(5000);
    expect(list.skipped).toBeLessThanOrEqual(10);
  });

  it('lists a well-known throwaway domain and the domains below it', () => {
    expect(list.listed('mailinator.com')).toBe(true);
    expect(list.listed('inbox.mailinator.com')).toBe(true);
    expect(list.listed('a.b.mailinator.com')).toBe(true);
    expect(list.listed(asciiDomainOfAddress('someone@MAILINATOR.com')!)).toBe(true);
  });

  it('does not list a domain that merely ends alike, nor a mainstream provider', () => {
    expect(list.listed('xmailinator.com')).toBe(false);
    expect(list.listed('mailinator.com.example.org')).toBe(false);
    expect(list.listed('gmail.com')).toBe(false);
    expect(list.listed('com')).toBe(false);
  });

  it('holds internationalised entries in ASCII form, found from their Unicode spelling', () => {
    expect(list.listed('xn--yaho-sqa.com')).toBe(true);
    expect(list.listed(asciiDomain('yahóo.com')!)).toBe(true);
  });

  it('is read once per process', () => {
    expect(disposableDomains()).toBe(list);
  });
});

describe('a disposable-domain list built from entries', () => {
  it('maps entries to ASCII form and skips what is not a domain, counting it', () => {
    const list = disposableDomainsOf(['Throwaway.EXAMPLE', 'exämple.org', 'xn--zz.org', 'org', '', 42, 'a..b'], '1.26.0');
    expect(list.size).toBe(2);
    expect(list.skipped).toBe(5);
    expect(list.listed('throwaway.example')).toBe(true);
    expect(list.listed('a.xn--exmple-cua.org')).toBe(true);
    expect(list.listed('example.org')).toBe(false);
  });

  it('never matches a bare top-level domain above the domain', () => {
    const list = disposableDomainsOf(['org'], '1.26.0');
    expect(list.size).toBe(0);
    expect(list.listed('example.org')).toBe(false);
    expect(list.listed('org')).toBe(false);
  });

  it('has no date for a version this project did not record', () => {
    expect(disposableDomainsOf([], '0.0.1').publishedOn).toBeUndefined();
    expect(disposableDomainsOf([], 'toString').publishedOn).toBeUndefined();
  });

  it('refuses a list that is not an array', () => {
    expect(() => disposableDomainsOf({ 'mailinator.com': true }, '9.9.9')).toThrow(/9\.9\.9 ships a list that is not an array/);
  });
});
