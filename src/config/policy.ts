import { z } from 'zod';
import { section } from './common';
import { synapse } from './doc-marks';
import { ADDRESS_RULES, DEFAULT_PURPOSES, PURPOSES, type AddressRule, type Purpose } from '../policy/address-policy';
import { compilePythonPattern, PatternError } from '../policy/python-regex';
import { domainToUnicode } from 'node:url';
import { DomainList, asciiDomain } from '../policy/domain-list';
import { canonicaliseEmail } from '../threepid/email';
import { caseFold } from '../threepid/case-fold';

/*
 * Who may use which address. Synapse's keys sit at the top level, where an
 * operator pastes them from homeserver.yaml; the rules Synapse lacks are in
 * `address_policy`. Every entry is checked in the schema, so a bad one is
 * reported under its key with every other problem of the file.
 */

/** A Python regular expression that runs as Python would run it (see src/policy/python-regex.ts). */
const pythonPattern = z
  .string()
  .min(1)
  .superRefine((source, ctx) => {
    try {
      compilePythonPattern(source);
    } catch (err) {
      if (!(err instanceof PatternError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  });

/** A domain (`example.org`) or every domain below one (`*.example.org`). */
const domainEntry = z.string().superRefine((entry, ctx) => {
  DomainList.parse([entry], (_index, message) => ctx.addIssue({ code: 'custom', message }));
});

/** An email address, in the canonical form addresses are compared in. */
const emailLiteral = z.string().transform((literal, ctx) => {
  try {
    return canonicaliseEmail(literal);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `is not an email address: ${(err as Error).message}` });
    return z.NEVER;
  }
});

/**
 * A banned suffix in the form the addresses it is compared with are stored
 * in: the part before its `@` case-folded as local parts are (`+Spaß@…` is
 * `+spass@…`), the part after it (or all of it, when it has no `@`: the tail
 * of a domain) UTS-46-mapped as domains are (`STRAẞE.de` is `strasse.de`,
 * fullwidth letters are letters). A tail that is no domain stays as written,
 * lower-cased.
 */
function canonicalSuffix(suffix: string): string {
  const text = suffix.normalize('NFC');
  const at = text.lastIndexOf('@');
  const local = at < 0 ? '' : `${caseFold(text.slice(0, at))}@`;
  const tail = text.slice(at + 1);
  const dot = tail.startsWith('.') ? '.' : '';
  const ascii = asciiDomain(tail.slice(dot.length));
  const domain = ascii === undefined ? tail.toLowerCase() : `${dot}${domainToUnicode(ascii)}`;
  return `${local}${domain}`.normalize('NFC');
}

/** Synapse's `allowed_local_3pids`: `[{medium, pattern}]`. */
export const ALLOWED_LOCAL_3PIDS = section(
  z
    .array(
      z
        .object({
          medium: synapse(z.enum(['email', 'msisdn']).describe('The kind of address the pattern applies to.')),
          pattern: synapse(
            pythonPattern.describe('A Python regular expression applied with re.match, which anchors at the start only: end it with $. Run on RE2, so backreferences and lookarounds are config errors.'),
          ),
        })
        .strict(),
    )
    .default([]),
);

/** Synapse's `disable_msisdn_registration`. */
export const DISABLE_MSISDN_REGISTRATION = z.boolean().default(false);
/** Synapse's `enable_3pid_changes`. */
export const ENABLE_3PID_CHANGES = z.boolean().default(true);

const domains = z.array(domainEntry).default([]);
const purposes = section(z.array(z.enum(PURPOSES)).default([...DEFAULT_PURPOSES])).describe(
  'The requests the rule applies to: register, add (/account/3pid) and password (reset).',
);

/** `address_policy`: email domain and address rules, disposable domains, and the purposes each rule applies to. */
export const ADDRESS_POLICY = section(
  z
    .object({
      allowed_domains: domains.describe('Only addresses at these domains are allowed; empty: every domain. An entry is a domain, or `*.name` for every domain below name.'),
      banned_domains: domains.describe('Addresses at these domains are refused. An entry is a domain, or `*.name` for every domain below name.'),
      banned_addresses: section(
        z
          .object({
            literals: z.array(emailLiteral).default([]).describe('Whole addresses, compared in canonical form.'),
            suffixes: z.array(z.string().min(1)).default([]).describe('Endings of addresses, such as `@mail.example.org` or `+spam@example.org`.'),
            regexes: z.array(pythonPattern).default([]).describe('Python regular expressions, applied with re.search (anywhere in the address).'),
          })
          .strict()
          .default({}),
      ).describe('Addresses refused whatever their domain.'),
      disposable_domains: section(
        z
          .object({
            enabled: z.boolean().default(false).describe('Refuse throwaway mail domains, from the list the disposable-email-domains-js package ships (each with every domain below it).'),
            additions: domains.describe('Domains added to the list, each with every domain below it.'),
            exceptions: domains.describe('Domains taken off the list: each excepts the domain it names; `*.name` for the domains below.'),
          })
          .strict()
          .default({}),
      ).describe('Throwaway mail domains.'),
      purposes: section(
        z
          .object(Object.fromEntries(ADDRESS_RULES.map((rule) => [rule, purposes])) as Record<AddressRule, typeof purposes>)
          .strict()
          .default({}),
      ).describe('Which requests each rule applies to. Not password reset by default: an account must be able to recover with its address after the domain is banned.'),
    })
    .strict()
    .default({}),
);

export function toAddressPolicy(raw: {
  allowedLocal3pids: z.output<typeof ALLOWED_LOCAL_3PIDS>;
  disableMsisdnRegistration: boolean;
  enable3pidChanges: boolean;
  addressPolicy: z.output<typeof ADDRESS_POLICY>;
}) {
  const { addressPolicy: policy } = raw;
  return {
    /** Synapse's switches. */
    disableMsisdnRegistration: raw.disableMsisdnRegistration,
    enable3pidChanges: raw.enable3pidChanges,
    allowedLocal3pids: raw.allowedLocal3pids,
    email: {
      allowedDomains: policy.allowed_domains,
      bannedDomains: policy.banned_domains,
      bannedAddresses: {
        /** Canonical addresses. */
        literals: policy.banned_addresses.literals,
        suffixes: policy.banned_addresses.suffixes.map(canonicalSuffix),
        regexes: policy.banned_addresses.regexes,
      },
      disposableDomains: policy.disposable_domains,
    },
    purposes: Object.fromEntries(ADDRESS_RULES.map((rule) => [rule, [...new Set(policy.purposes[rule])]])) as Record<AddressRule, Purpose[]>,
  };
}
