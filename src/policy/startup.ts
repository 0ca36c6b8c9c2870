import type { Logger } from '../logger';
import { AddressPolicy, looseEnds, type AddressPolicySettings } from './address-policy';
import { disposableDomains } from './disposable-domains';

/**
 * The address policy the module runs, built from its settings, with what
 * the operator should see at start: the disposable list in force (its
 * source, version, date and size), and every `allowed_local_3pids` pattern
 * that also admits addresses going on past it.
 */
export function startAddressPolicy(settings: AddressPolicySettings, logger: Logger): AddressPolicy {
  const policy = new AddressPolicy(settings, disposableDomains);
  const list = policy.disposableList;
  if (list) {
    const { disposableDomains: local } = settings.email;
    logger.info(
      {
        list: list.source,
        version: list.version,
        published: list.publishedOn ?? 'unknown',
        domains: list.size,
        additions: local.additions.length,
        exceptions: local.exceptions.length,
      },
      'disposable email domains are refused',
    );
  }
  for (const loose of looseEnds(settings.allowedLocal3pids)) {
    // The key only: a pattern may spell out someone's address, and logs carry none.
    logger.warn(
      { key: loose.key },
      'allowed_local_3pids pattern does not end in $: Synapse and this module apply it with re.match, which anchors at the start only (--check shows an address it also admits)',
    );
  }
  return policy;
}
