import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../../src/config';
import { AddressPolicy } from '../../../src/policy/address-policy';
import { disposableDomains } from '../../../src/policy/disposable-domains';
import { canonicaliseEmail } from '../../../src/threepid/email';
import { blocksOf } from '../../support/doc-blocks';

/** The YAML examples of the address policy's page, as an operator would paste them. */
function examples(): unknown[] {
  return blocksOf('docs/topics/address-policy.md')
    .filter((block) => block.lang === 'yaml')
    .map((block) => parseYaml(block.text));
}

function policyOf(raw: unknown) {
  const config = parseConfig(raw as never);
  return { config, policy: new AddressPolicy(config.policy, disposableDomains) };
}

const email = (address: string) => canonicaliseEmail(address);

describe("the address policy page's examples", () => {
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
