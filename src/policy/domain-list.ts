import { domainToASCII, domainToUnicode } from 'node:url';

/** A DNS label in ASCII: letters, digits and inner hyphens, at most 63 characters. */
const ASCII_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_DOMAIN_LENGTH = 253;
/** ASCII that no spelling of a domain holds; the URL parser would read some of it as the end of the host. */
const NOT_IN_A_DOMAIN = /[^A-Za-z0-9.\-\u0080-\u{10FFFF}]/u;

/**
 * The ASCII (punycode, lower-case) form of a domain as UTS-46 maps it (as
 * URLs map host names, and as `canonicaliseDomain` does), or undefined when
 * it is not a valid domain.
 *
 * The URL host parser behind `domainToASCII` accepts more than a domain: it
 * stops at `/`, `?`, `#` or `\` (`example.org/x` is `example.org`), drops
 * tabs and newlines, percent-decodes (`a.b%2ec` is `a.b.c`), reads IPv4
 * addresses in any base (`0x7f.1` is `127.0.0.1`), keeps empty labels, a
 * trailing dot, `*` and `_`. So ASCII other than letters, digits, dots and
 * hyphens is refused before it, and what it hands back is checked label by
 * label against the DNS's letters-digits-hyphen rule. Node 20 maps a label
 * that is not valid punycode (`xn--zz`) to '' while newer engines hand it
 * back unchanged; decoding to Unicode and back refuses it on both.
 */
export function asciiDomain(domain: string): string | undefined {
  if (NOT_IN_A_DOMAIN.test(domain)) return undefined;
  const ascii = domainToASCII(domain);
  if (ascii === '' || ascii.length > MAX_DOMAIN_LENGTH) return undefined;
  const labels = ascii.split('.');
  if (!labels.every((label) => ASCII_LABEL.test(label))) return undefined;
  // A name whose last label is a number is an IPv4 address to every resolver.
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return undefined;
  const unicode = domainToUnicode(ascii);
  const labelsRead = unicode.split('.');
  // An A-label that decodes to a label with a hyphen at either end is refused as that label would be.
  if (unicode === '' || labelsRead.some((label) => label.startsWith('xn--') || /^-|-$/.test(label)) || domainToASCII(unicode) !== ascii) {
    return undefined;
  }
  return ascii;
}

/** The ASCII form of an address's domain (after its last `@`); undefined when invalid. */
export function asciiDomainOfAddress(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  return at < 0 ? undefined : asciiDomain(address.slice(at + 1));
}

const WILDCARD = '*.';

/**
 * Why an entry is not one the list can hold, in words an operator can act
 * on. The entry itself is never repeated: it may be an email address, and
 * addresses stay out of the logs.
 */
function entryProblem(entry: string): string {
  if (entry.includes('@')) return 'is an email address, not a domain: list the part after the @';
  if (entry.includes('://') || entry.includes('/')) return 'is a URL, not a domain: list its host name';
  if (entry.trim() !== entry) return 'has a space before or after it';
  if (entry === '*' || entry === WILDCARD) return 'is a wildcard with no domain: `*.example.org` is every domain below example.org';
  if (entry.includes('*')) return 'has a `*` that is not a leading `*.` label: `*.example.org` is every domain below example.org';
  if (/^[.。．｡]|[.。．｡]$/.test(entry)) {
    return 'starts or ends with a dot: write `example.org`, or `*.example.org` for the domains below it';
  }
  return 'is not a valid domain name';
}

type Parsed = { kind: 'exact' | 'below'; domain: string } | { kind: 'invalid'; message: string };

function parseEntry(entry: string): Parsed {
  const below = entry.startsWith(WILDCARD);
  const domain = asciiDomain(below ? entry.slice(WILDCARD.length) : entry);
  if (domain === undefined) return { kind: 'invalid', message: entryProblem(entry) };
  // Mail is never addressed to a top-level domain itself; an operator who
  // writes `com` means every domain under it, and should say so.
  if (!below && !domain.includes('.')) {
    return { kind: 'invalid', message: 'is a top-level domain alone, which no address has: `*.org` is every domain under org' };
  }
  return { kind: below ? 'below' : 'exact', domain };
}

/**
 * Domain names as operators list them: `example.org` is that domain;
 * `*.example.org` is every domain below it (`a.example.org`,
 * `a.b.example.org`), not `example.org` itself. Entries may be written in
 * Unicode or ASCII, any case. Matching is on the ASCII form.
 */
export class DomainList {
  static readonly empty = new DomainList(new Set(), new Set());

  /** Entries written out, and the domains whose subdomains are all listed. */
  private constructor(
    private readonly exact: ReadonlySet<string>,
    private readonly below: ReadonlySet<string>,
  ) {}

  /** Reports each entry that is not a domain or a `*.` form (by index, with a message), and keeps the others. */
  static parse(entries: readonly string[], onError: (index: number, message: string) => void): DomainList {
    const exact = new Set<string>();
    const below = new Set<string>();
    entries.forEach((entry, index) => {
      const parsed = typeof entry === 'string' ? parseEntry(entry) : { kind: 'invalid' as const, message: 'is not a string' };
      if (parsed.kind === 'invalid') onError(index, parsed.message);
      else (parsed.kind === 'exact' ? exact : below).add(parsed.domain);
    });
    return new DomainList(exact, below);
  }

  /** Distinct entries kept (two spellings of one domain count once). */
  get size(): number {
    return this.exact.size + this.below.size;
  }

  /** `domain` in ASCII form (see asciiDomain). One set lookup per label. */
  includes(domain: string): boolean {
    if (this.exact.has(domain)) return true;
    for (let dot = domain.indexOf('.'); dot >= 0; dot = domain.indexOf('.', dot + 1)) {
      if (this.below.has(domain.slice(dot + 1))) return true;
    }
    return false;
  }
}
