import { readFileSync } from 'node:fs';
import { asciiDomain } from './domain-list';

export interface DisposableDomains {
  /** npm package the list comes from. */
  readonly source: string;
  readonly version: string;
  /** The day that version was published (YYYY-MM-DD), when this project recorded it; undefined for a version it did not. */
  readonly publishedOn: string | undefined;
  /** Domains on the list. */
  readonly size: number;
  /** Entries of the package's list that are not valid domains, left out. */
  readonly skipped: number;
  /** True when the domain, or a domain above it (`x.mailinator.com` under `mailinator.com`), is on the list. ASCII form. */
  listed(domain: string): boolean;
}

export const DISPOSABLE_DOMAINS_PACKAGE = 'disposable-email-domains-js';

/**
 * When each version of the package was published, from the npm registry.
 * The package ships no date, and an operator judging how stale the list is
 * needs one; a unit test fails when the installed version is missing here,
 * so a dependency bump records its date.
 */
export const DISPOSABLE_DOMAINS_PUBLISHED_ON: Readonly<Record<string, string>> = {
  '1.26.0': '2026-09-21',
};

/** The list's domains in ASCII form, from the package's entries (anything else is skipped and counted). */
export function disposableDomainsOf(entries: unknown, version: string): DisposableDomains {
  if (!Array.isArray(entries)) throw new Error(`${DISPOSABLE_DOMAINS_PACKAGE} ${version} ships a list that is not an array`);
  const domains = new Set<string>();
  let skipped = 0;
  for (const entry of entries) {
    const domain = typeof entry === 'string' ? asciiDomain(entry) : undefined;
    // A bare top-level domain on the list would refuse a whole country's mail.
    if (domain === undefined || !domain.includes('.')) skipped += 1;
    else domains.add(domain);
  }
  return {
    source: DISPOSABLE_DOMAINS_PACKAGE,
    version,
    publishedOn: Object.hasOwn(DISPOSABLE_DOMAINS_PUBLISHED_ON, version) ? DISPOSABLE_DOMAINS_PUBLISHED_ON[version] : undefined,
    size: domains.size,
    skipped,
    listed(domain: string): boolean {
      // The domain itself, then each domain above it, short of its top-level domain.
      for (let candidate = domain; candidate.includes('.'); candidate = candidate.slice(candidate.indexOf('.') + 1)) {
        if (domains.has(candidate)) return true;
      }
      return false;
    },
  };
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(require.resolve(`${DISPOSABLE_DOMAINS_PACKAGE}/${file}`), 'utf8'));
}

let cached: DisposableDomains | undefined;

/** Reads the list once: every module built in the process shares it. */
export function disposableDomains(): DisposableDomains {
  if (cached === undefined) {
    const entries = readJson('dist/dict/disposable_email_blocklist.json');
    const { version } = readJson('package.json') as { version: string };
    cached = disposableDomainsOf(entries, version);
  }
  return cached;
}
