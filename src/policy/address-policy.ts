import { DELEGATED, type Medium, type SessionFlow } from '../model';
import { compilePythonPattern, endsInAnchor, type PythonPattern } from './python-regex';
import { looseEndExample } from './pattern-example';
import { DomainList, asciiDomainOfAddress } from './domain-list';
import type { DisposableDomains } from './disposable-domains';

/**
 * Who may use which address: Synapse's `allowed_local_3pids`, and the
 * email rules Synapse lacks (allowed and banned domains, banned addresses,
 * disposable domains), each applied to the purposes the operator chose.
 * Only verdicts here; what a refusal answers is the domain's business.
 */

/** What an address is being validated for: registering, adding it to an account, resetting a password. */
export const PURPOSES = ['register', 'add', 'password'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** The rules an address can be refused by, in the order they are tried; metrics count refusals by these names. */
export const ADDRESS_RULES = ['allowed_local_3pids', 'allowed_domains', 'banned_domains', 'banned_addresses', 'disposable_domains'] as const;
export type AddressRule = (typeof ADDRESS_RULES)[number];

/**
 * Synapse's default for `allowed_local_3pids`, and ours for every rule:
 * registering and adding. Not password reset: an address an account
 * already has must still recover it when its domain is banned later.
 */
export const DEFAULT_PURPOSES: readonly Purpose[] = ['register', 'add'];

/**
 * The purposes a session of `flow` serves. A homeserver that delegates
 * (Synapse's `account_threepid_delegates.msisdn`) does not say why it asks;
 * Synapse delegates phone numbers to register and to add them, so a
 * delegated session answers to the rules of either.
 */
export function purposesOf(flow: SessionFlow): readonly Purpose[] {
  if (flow === DELEGATED) return DEFAULT_PURPOSES;
  return flow === '3pid' ? ['add'] : [flow];
}

export interface AllowedLocal3pid {
  readonly medium: string;
  /** A Python regular expression, applied with `re.match` (anchored at the start only), as Synapse does. */
  readonly pattern: string;
}

/** The policy's settings, as the config gives them (every entry already checked). */
export interface AddressPolicySettings {
  readonly allowedLocal3pids: readonly AllowedLocal3pid[];
  readonly email: {
    readonly allowedDomains: readonly string[];
    readonly bannedDomains: readonly string[];
    readonly bannedAddresses: {
      /** Canonical addresses. */
      readonly literals: readonly string[];
      /** In the form addresses are stored in: local part case-folded, domain mapped, NFC. */
      readonly suffixes: readonly string[];
      /** Python regular expressions, applied with `re.search` (anywhere in the address). */
      readonly regexes: readonly string[];
    };
    readonly disposableDomains: {
      readonly enabled: boolean;
      readonly additions: readonly string[];
      readonly exceptions: readonly string[];
    };
  };
  readonly purposes: Readonly<Record<AddressRule, readonly Purpose[]>>;
}

/** A list entry the config checked already: a second failure here is a bug, not an operator's error. */
function checkedList(entries: readonly string[]): DomainList {
  return DomainList.parse(entries, (index) => {
    throw new Error(`domain list entry ${index} was not checked by the config`);
  });
}

/**
 * An email address in both spellings of its domain: the canonical one
 * (Unicode, as stored) and the ASCII one (punycode). A pattern written for
 * either matches: they are one mailbox.
 */
function spellingsOf(address: string, ascii: string | undefined): readonly string[] {
  const at = address.lastIndexOf('@');
  const asciiSpelling = ascii === undefined ? address : `${address.slice(0, at + 1)}${ascii}`;
  return asciiSpelling === address ? [address] : [address, asciiSpelling];
}

/** `a.b.example.org` → itself, `b.example.org`, `example.org` (never the top-level domain alone). */
function parentsOf(domain: string): string[] {
  const labels = domain.split('.');
  return labels.slice(0, -1).map((_label, index) => labels.slice(index).join('.'));
}

export class AddressPolicy {
  private readonly allowed: readonly { medium: string; pattern: PythonPattern }[];
  private readonly allowedDomains: DomainList;
  private readonly bannedDomains: DomainList;
  private readonly literals: ReadonlySet<string>;
  private readonly suffixes: readonly string[];
  private readonly regexes: readonly PythonPattern[];
  private readonly disposable: { list: DisposableDomains; additions: DomainList; exceptions: DomainList } | undefined;
  /** No rule at all: nothing to work out per request. */
  private readonly idle: boolean;

  /**
   * @param disposableList read only when `disposable_domains.enabled` is on:
   *   a policy without it does not load the list.
   */
  constructor(
    private readonly settings: AddressPolicySettings,
    disposableList: () => DisposableDomains,
  ) {
    this.allowed = settings.allowedLocal3pids.map((entry) => ({ medium: entry.medium, pattern: compilePythonPattern(entry.pattern) }));
    const { email } = settings;
    this.allowedDomains = checkedList(email.allowedDomains);
    this.bannedDomains = checkedList(email.bannedDomains);
    this.literals = new Set(email.bannedAddresses.literals);
    this.suffixes = email.bannedAddresses.suffixes;
    this.regexes = email.bannedAddresses.regexes.map((source) => compilePythonPattern(source));
    this.disposable = email.disposableDomains.enabled
      ? {
          list: disposableList(),
          additions: checkedList(email.disposableDomains.additions),
          exceptions: checkedList(email.disposableDomains.exceptions),
        }
      : undefined;
    this.idle =
      this.allowed.length === 0 &&
      this.allowedDomains.size === 0 &&
      this.bannedDomains.size === 0 &&
      this.literals.size === 0 &&
      this.suffixes.length === 0 &&
      this.regexes.length === 0 &&
      this.disposable === undefined;
  }

  /** The list of throwaway domains refused, when that rule is on: its source, version, date and size, for the start log. */
  get disposableList(): DisposableDomains | undefined {
    return this.disposable?.list;
  }

  /**
   * The first rule that refuses `address` for any of `purposes`; undefined
   * when every rule that applies lets it through.
   */
  refusal(medium: Medium, address: string, purposes: readonly Purpose[]): AddressRule | undefined {
    if (this.idle) return undefined;
    const applies = (rule: AddressRule) => this.settings.purposes[rule].some((purpose) => purposes.includes(purpose));
    // The ASCII form of an email's domain, worked out once for every rule below.
    const domain = medium === 'email' ? asciiDomainOfAddress(address) : undefined;
    const spellings = medium === 'email' ? spellingsOf(address, domain) : [address];
    // Synapse's semantics: once the list has entries, an address no entry of its medium matches is refused.
    if (this.allowed.length > 0 && applies('allowed_local_3pids')) {
      const admitted = this.allowed.some((entry) => entry.medium === medium && spellings.some((text) => entry.pattern.matchesAtStart(text)));
      if (!admitted) return 'allowed_local_3pids';
    }
    if (medium !== 'email') return undefined;
    if (this.allowedDomains.size > 0 && applies('allowed_domains') && (domain === undefined || !this.allowedDomains.includes(domain))) {
      return 'allowed_domains';
    }
    if (domain !== undefined && applies('banned_domains') && this.bannedDomains.includes(domain)) return 'banned_domains';
    if (applies('banned_addresses') && this.isBannedAddress(spellings)) return 'banned_addresses';
    if (this.disposable && domain !== undefined && applies('disposable_domains') && this.isDisposable(domain)) return 'disposable_domains';
    return undefined;
  }

  private isBannedAddress(spellings: readonly string[]): boolean {
    return spellings.some(
      (text) =>
        this.literals.has(text) ||
        this.suffixes.some((suffix) => text.endsWith(suffix)) ||
        this.regexes.some((pattern) => pattern.matchesAnywhere(text)),
    );
  }

  /**
   * An addition counts as a list entry does: the domain and every domain
   * below it. An exception excepts what it names (`name`, or `*.name` for
   * the domains below).
   */
  private isDisposable(domain: string): boolean {
    const { list, additions, exceptions } = this.disposable!;
    if (exceptions.includes(domain)) return false;
    return list.listed(domain) || parentsOf(domain).some((name) => additions.includes(name));
  }
}

/** An `allowed_local_3pids` pattern that can match a prefix only, and an address it would admit though it should not. */
export interface LooseEnd {
  /** The config key, e.g. `allowed_local_3pids.0.pattern`. */
  readonly key: string;
  readonly pattern: string;
  readonly example: string | undefined;
}

/**
 * Synapse applies the patterns with `re.match`, which anchors at the start
 * only: `^[^@]+@example\.org` also admits `a@example.org.attacker.example`.
 * Every pattern that does not end in `$` (or `\Z`) is worth a warning.
 */
export function looseEnds(allowedLocal3pids: readonly AllowedLocal3pid[]): LooseEnd[] {
  return allowedLocal3pids.flatMap((entry, index) =>
    endsInAnchor(entry.pattern)
      ? []
      : [
          {
            key: `allowed_local_3pids.${index}.pattern`,
            pattern: entry.pattern,
            example: looseEndExample(entry.pattern, entry.medium === 'msisdn' ? 'msisdn' : 'email'),
          },
        ],
  );
}
