import { ConfigError, parseConfig, type RawConfig } from '../../../src/config';
import { AddressPolicy, looseEnds, purposesOf, type Purpose } from '../../../src/policy/address-policy';
import { disposableDomains } from '../../../src/policy/disposable-domains';
import { canonicaliseEmail } from '../../../src/threepid/email';
import { startAddressPolicy } from '../../../src/policy/startup';
import { CapturingLogger } from '../../support/harness';

function policyOf(raw: Partial<RawConfig>): AddressPolicy {
  return new AddressPolicy(parseConfig(raw).policy, disposableDomains);
}

function configErrors(raw: unknown): string[] {
  try {
    parseConfig(raw as never);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw err;
  }
  return [];
}

const email = (address: string) => canonicaliseEmail(address);
const REGISTER: Purpose[] = ['register'];

describe('allowed_local_3pids, with Synapse 1.67 semantics (synapse/util/threepids.py)', () => {
  it('no list: every address is allowed', () => {
    expect(policyOf({}).refusal('email', 'a@example.org', REGISTER)).toBeUndefined();
    expect(policyOf({}).refusal('msisdn', '447911123456', REGISTER)).toBeUndefined();
  });

  it('an address passes when an entry of its medium matches it at the start (re.match)', () => {
    const policy = policyOf({
      allowed_local_3pids: [
        { medium: 'email', pattern: '^[^@]+@matrix\\.org$' },
        { medium: 'email', pattern: '.*@vector\\.im' },
        { medium: 'msisdn', pattern: '44' },
      ],
    } as Partial<RawConfig>);
    expect(policy.refusal('email', 'alice@matrix.org', REGISTER)).toBeUndefined();
    expect(policy.refusal('email', 'alice@matrix.org.evil.net', REGISTER)).toBe('allowed_local_3pids');
    // No $: also a longer domain, as re.match would.
    expect(policy.refusal('email', 'bob@vector.im.evil.net', REGISTER)).toBeUndefined();
    // No ^ needed: re.match anchors at the start; a match further in does not count.
    expect(policy.refusal('msisdn', '447911123456', REGISTER)).toBeUndefined();
    expect(policy.refusal('msisdn', '33644000000', REGISTER)).toBe('allowed_local_3pids');
    // An email pattern never admits a phone number, nor the other way round.
    expect(policy.refusal('email', '44@example.org', REGISTER)).toBe('allowed_local_3pids');
  });

  it('matches either spelling of a domain: the stored Unicode one and the ASCII one', () => {
    const ascii = policyOf({ allowed_local_3pids: [{ medium: 'email', pattern: '^[^@]+@xn--exmple-cua\\.org$' }] } as Partial<RawConfig>);
    expect(ascii.refusal('email', email('a@exämple.org'), REGISTER)).toBeUndefined();
    const unicode = policyOf({ allowed_local_3pids: [{ medium: 'email', pattern: '^[^@]+@exämple\\.org$' }] } as Partial<RawConfig>);
    expect(unicode.refusal('email', email('a@xn--exmple-cua.org'), REGISTER)).toBeUndefined();
  });

  it('applies to register and add by default, not password reset, as Synapse', () => {
    const policy = policyOf({ allowed_local_3pids: [{ medium: 'email', pattern: '^[^@]+@matrix\\.org$' }] } as Partial<RawConfig>);
    expect(policy.refusal('email', 'a@other.org', ['register'])).toBe('allowed_local_3pids');
    expect(policy.refusal('email', 'a@other.org', ['add'])).toBe('allowed_local_3pids');
    expect(policy.refusal('email', 'a@other.org', ['password'])).toBeUndefined();
  });

  it('a pattern that does not compile is a config error naming its key, reported with all the others', () => {
    const errors = configErrors({
      allowed_local_3pids: [
        { medium: 'email', pattern: '^[^@]+@example\\.org$' },
        { medium: 'email', pattern: '(a)\\1' },
        { medium: 'msisdn', pattern: '(?=44)' },
      ],
      address_policy: { banned_addresses: { regexes: ['(unclosed'] }, banned_domains: ['not a domain'] },
      sms: { daily_limit: -1 },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^allowed_local_3pids\.1\.pattern: .*backreference/i),
        expect.stringMatching(/^allowed_local_3pids\.2\.pattern: .*look/i),
        expect.stringMatching(/^address_policy\.banned_addresses\.regexes\.0: /),
        expect.stringMatching(/^address_policy\.banned_domains\.0: /),
      ]),
    );
    expect(errors.some((line) => line.startsWith('allowed_local_3pids.0'))).toBe(false);
  });

  it('an entry of an unknown medium, or with a key Synapse does not have, is a config error', () => {
    expect(configErrors({ allowed_local_3pids: [{ medium: 'e-mail', pattern: '.*' }] })).toEqual([
      expect.stringMatching(/^allowed_local_3pids\.0\.medium: /),
    ]);
    expect(configErrors({ allowed_local_3pids: [{ medium: 'email', pattern: '.*', regex: true }] })).toEqual([
      expect.stringMatching(/^allowed_local_3pids\.0: unknown key/),
    ]);
  });

  it('names every pattern that can match a prefix only, with an address it wrongly admits', () => {
    const loose = looseEnds(
      parseConfig({
        allowed_local_3pids: [
          { medium: 'email', pattern: '^[^@]+@example\\.org$' },
          { medium: 'email', pattern: '^[^@]+@example\\.org' },
          { medium: 'msisdn', pattern: '^44' },
        ],
      }).policy.allowedLocal3pids,
    );
    expect(loose.map((entry) => entry.key)).toEqual(['allowed_local_3pids.1.pattern', 'allowed_local_3pids.2.pattern']);
    const policy = policyOf({ allowed_local_3pids: [{ medium: 'email', pattern: '^[^@]+@example\\.org' }] } as Partial<RawConfig>);
    expect(loose[0].example).toMatch(/@example\.org./);
    expect(policy.refusal('email', loose[0].example!, REGISTER)).toBeUndefined();
    expect(loose[1].example).toMatch(/^44\d+$/);
  });
});

describe('email domain and address rules', () => {
  it('allowed_domains: only those domains; *. forms cover the domains below', () => {
    const policy = policyOf({ address_policy: { allowed_domains: ['example.org', '*.example.net'] } });
    expect(policy.refusal('email', 'a@example.org', REGISTER)).toBeUndefined();
    expect(policy.refusal('email', 'a@mail.example.net', REGISTER)).toBeUndefined();
    expect(policy.refusal('email', 'a@example.net', REGISTER)).toBe('allowed_domains');
    expect(policy.refusal('email', 'a@example.org.evil.net', REGISTER)).toBe('allowed_domains');
    // Phone numbers have their own rules (sms.allowed_countries).
    expect(policy.refusal('msisdn', '447911123456', REGISTER)).toBeUndefined();
  });

  it('banned_domains compares IDNA forms', () => {
    const policy = policyOf({ address_policy: { banned_domains: ['xn--exmple-cua.org'] } });
    expect(policy.refusal('email', email('A@EXÄMPLE.ORG'), REGISTER)).toBe('banned_domains');
    expect(policy.refusal('email', email('a@example.org'), REGISTER)).toBeUndefined();
  });

  it('banned_addresses: literals are canonicalised like addresses; suffixes and regexes see both spellings', () => {
    const policy = policyOf({
      address_policy: {
        banned_addresses: { literals: ['Strauß@Example.com'], suffixes: ['@XN--EXMPLE-CUA.ORG'], regexes: ['^noreply'] },
      },
    });
    expect(policy.refusal('email', email('STRAUSS@example.com'), REGISTER)).toBe('banned_addresses');
    expect(policy.refusal('email', email('x@exämple.org'), REGISTER)).toBe('banned_addresses');
    expect(policy.refusal('email', email('NoReply-7@example.com'), REGISTER)).toBe('banned_addresses');
    expect(policy.refusal('email', email('reply@example.com'), REGISTER)).toBeUndefined();
  });

  it('a banned literal that is not an address is a config error naming it', () => {
    expect(configErrors({ address_policy: { banned_addresses: { literals: ['not-an-address'] } } })).toEqual([
      expect.stringMatching(/^address_policy\.banned_addresses\.literals\.0: is not an email address/),
    ]);
  });

  it('disposable domains: off by default; on, a listed domain and those below it, plus additions, minus exceptions', () => {
    expect(policyOf({}).refusal('email', 'a@mailinator.com', REGISTER)).toBeUndefined();
    const policy = policyOf({
      address_policy: { disposable_domains: { enabled: true, additions: ['*.temp.example'], exceptions: ['guerrillamail.com'] } },
    });
    expect(policy.disposableList?.size).toBeGreaterThan(5000);
    expect(policy.refusal('email', 'a@mailinator.com', REGISTER)).toBe('disposable_domains');
    expect(policy.refusal('email', 'a@box.mailinator.com', REGISTER)).toBe('disposable_domains');
    expect(policy.refusal('email', 'a@x.temp.example', REGISTER)).toBe('disposable_domains');
    // An addition, like a list entry, covers the domains below it; an exception only what it names.
    const plain = policyOf({ address_policy: { disposable_domains: { enabled: true, additions: ['throwaway.example'], exceptions: ['mailinator.com'] } } });
    expect(plain.refusal('email', 'a@throwaway.example', REGISTER)).toBe('disposable_domains');
    expect(plain.refusal('email', 'a@deep.x.throwaway.example', REGISTER)).toBe('disposable_domains');
    expect(plain.refusal('email', 'a@mailinator.com', REGISTER)).toBeUndefined();
    expect(plain.refusal('email', 'a@x.mailinator.com', REGISTER)).toBe('disposable_domains');
    expect(policy.refusal('email', 'a@guerrillamail.com', REGISTER)).toBeUndefined();
    expect(policy.refusal('email', 'a@gmail.com', REGISTER)).toBeUndefined();
  });

  it('each rule applies to the purposes the operator lists', () => {
    const policy = policyOf({
      address_policy: {
        banned_domains: ['example.com'],
        purposes: { banned_domains: ['password'] },
      },
    });
    expect(policy.refusal('email', 'a@example.com', ['register'])).toBeUndefined();
    expect(policy.refusal('email', 'a@example.com', ['add'])).toBeUndefined();
    expect(policy.refusal('email', 'a@example.com', ['password'])).toBe('banned_domains');
    expect(configErrors({ address_policy: { purposes: { banned_domains: ['login'] } } })).toEqual([
      expect.stringMatching(/^address_policy\.purposes\.banned_domains\.0: /),
    ]);
  });

  it('the purposes of each flow: a delegated session answers to the rules of registering and adding', () => {
    expect(purposesOf('register')).toEqual(['register']);
    expect(purposesOf('3pid')).toEqual(['add']);
    expect(purposesOf('password')).toEqual(['password']);
    expect(purposesOf('delegated')).toEqual(['register', 'add']);
  });
});

describe('the start log', () => {
  it('names a loose pattern by its key only: a pattern may spell out an address, and logs carry none', () => {
    const logger = new CapturingLogger();
    const config = parseConfig({ allowed_local_3pids: [{ medium: 'email', pattern: '^boss@corp\\.example' }] });
    startAddressPolicy(config.policy, logger);
    expect(logger.lines).toEqual([{ level: 'warn', fields: { key: 'allowed_local_3pids.0.pattern' }, message: expect.stringContaining('--check') }]);
    expect(logger.text()).not.toContain('boss');
  });
});
