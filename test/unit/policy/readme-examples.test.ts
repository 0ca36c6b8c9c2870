import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../../src/config';
import { AddressPolicy } from '../../../src/policy/address-policy';
import { disposableDomains } from '../../../src/policy/disposable-domains';
import { canonicaliseEmail } from '../../../src/threepid/email';

/** The YAML examples of the README's section on the address policy, as an operator would paste them. */
function examples(): unknown[] {
  const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  const start = readme.indexOf('## Who may use which address');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => parseYaml(match[1]));
}

function policyOf(raw: unknown) {
  const config = parseConfig(raw as never);
  return { config, policy: new AddressPolicy(config.policy, disposableDomains) };
}

const email = (address: string) => canonicaliseEmail(address);

describe("the README's address policy examples", () => {
  it('has the two examples', () => {
    expect(examples()).toHaveLength(2);
  });

  it('company: staff domains and their subdomains only, no phone numbers, one shared inbox kept out', () => {
    const { config, policy } = policyOf(examples()[0]);
    expect(policy.refusal('email', email('Alice@Example.com'), ['register'])).toBeUndefined();
    expect(policy.refusal('email', email('bob@eu.staff.example.com'), ['add'])).toBeUndefined();
    expect(policy.refusal('email', email('eve@example.com.attacker.example'), ['register'])).toBe('allowed_local_3pids');
    expect(policy.refusal('email', email('eve@notexample.com'), ['register'])).toBe('allowed_local_3pids');
    expect(policy.refusal('email', email('shared-inbox@example.com'), ['add'])).toBe('banned_addresses');
    expect(policy.refusal('msisdn', '447911123456', ['add'])).toBe('allowed_local_3pids');
    expect(config.policy.disableMsisdnRegistration).toBe(true);
    // A password reset by an address the account has is left alone.
    expect(policy.refusal('email', email('eve@gmail.com'), ['password'])).toBeUndefined();
  });

  it('public server: throwaway domains, one banned domain and reserved names kept out; countries limited', () => {
    const { config, policy } = policyOf(examples()[1]);
    expect(policy.refusal('email', email('a@mailinator.com'), ['register'])).toBe('disposable_domains');
    expect(policy.refusal('email', email('a@my-users-use-this.example'), ['register'])).toBeUndefined();
    expect(policy.refusal('email', email('a@spam.example'), ['register'])).toBe('banned_domains');
    expect(policy.refusal('email', email('postmaster@example.org'), ['register'])).toBe('banned_addresses');
    expect(policy.refusal('email', email('alice@example.org'), ['register'])).toBeUndefined();
    expect(config.sms.allowedCountries).toEqual(['DE', 'AT', 'CH']);
  });
});
