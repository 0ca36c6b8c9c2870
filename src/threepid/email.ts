import isEmail from 'validator/lib/isEmail';
import { ThreepidError } from './errors';
import { isWellFormedText } from './request-body';
import { caseFold } from './case-fold';
import { canonicaliseDomain } from './email-domain';

/** Longest address accepted, after trimming (Synapse uses the same bound). */
export const MAX_EMAIL_LENGTH = 500;

/**
 * Characters that show nothing, or reorder what is shown: Unicode's format
 * characters (Cf: zero-width space and joiners, the byte-order mark, bidi
 * controls such as U+202E, tag characters, the soft hyphen) and the other
 * default-ignorable code points (variation selectors, the Hangul fillers,
 * U+034F). `ali\u200Bce@example.org` would display as alice's address.
 */
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;

/**
 * The local part case-folded as Python's `str.casefold()` does (Synapse's
 * `canonicalise_email`); the domain UTS-46-mapped, not folded. Folding a
 * domain names another one: `straße.de` would become `strasse.de`,
 * `σοφιας.gr` (final sigma) `σοφιασ.gr`, and the mail with its token would
 * go there.
 */
function foldLocalPartMapDomain(address: string): string {
  const at = address.lastIndexOf('@');
  return `${caseFold(address.slice(0, at))}@${canonicaliseDomain(address.slice(at + 1))}`;
}

/**
 * Returns the canonical form of an email address (spec appendix "3PID Types":
 * whitespace trimmed, local part case-folded, domain lower-cased; the domain
 * also mapped as UTS-46 maps it, so each mailbox has one spelling), or
 * throws `M_INVALID_PARAM`.
 *
 * The syntax check is validator.js's `isEmail`. On top of it, anything that
 * could make the address mean two things is refused: a second `@` (even in a
 * quoted local part: CVE-2019-11340 sent mail to one address and validated
 * another), quotes, any control character (header injection), and invisible
 * or bidi control characters (an address that displays as another's). The
 * address is normalised to NFC before folding, so the precomposed and
 * decomposed forms of `é` are one address, not two keys.
 */
export function canonicaliseEmail(input: string): string {
  if (typeof input !== 'string') throw new ThreepidError('M_INVALID_PARAM', `The email address must be a string; got ${input === null ? 'null' : typeof input}`);
  if (!isWellFormedText(input)) throw new ThreepidError('M_INVALID_PARAM', 'The email address is not well-formed Unicode text');
  const address = input.trim().normalize('NFC');
  if (address.length === 0) throw new ThreepidError('M_INVALID_PARAM', 'The email address is empty');
  if (address.length > MAX_EMAIL_LENGTH) {
    throw new ThreepidError('M_INVALID_PARAM', `The email address is longer than ${MAX_EMAIL_LENGTH} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(address)) {
    throw new ThreepidError('M_INVALID_PARAM', 'The email address contains a control character');
  }
  // Tested before trimming too: trim() quietly drops a leading U+FEFF.
  if (INVISIBLE.test(input)) {
    throw new ThreepidError('M_INVALID_PARAM', 'The email address contains an invisible or bidi control character');
  }
  if (address.indexOf('@') !== address.lastIndexOf('@') || address.includes('"')) {
    throw new ThreepidError('M_INVALID_PARAM', 'The email address is ambiguous');
  }
  if (!isEmail(address, { allow_display_name: false, allow_ip_domain: false, allow_utf8_local_part: true })) {
    throw new ThreepidError('M_INVALID_PARAM', 'The email address is not valid');
  }
  // Case mappings can leave a sequence that is not NFC (U+0130 lower-cases to i + U+0307).
  const canonical = foldLocalPartMapDomain(address).normalize('NFC');
  // Mapping can make an address of what was not one (`0x7f.1` is the IP address 127.0.0.1);
  // an address it left as it was has passed already (the check is a third of the cost).
  if (canonical !== address && !isEmail(canonical, { allow_display_name: false, allow_ip_domain: false, allow_utf8_local_part: true })) {
    throw new ThreepidError('M_INVALID_PARAM', 'The email address is not valid');
  }
  // Folding can lengthen the address (ß → ss); the limit holds for what is stored.
  if (canonical.length > MAX_EMAIL_LENGTH) {
    throw new ThreepidError('M_INVALID_PARAM', `The email address is longer than ${MAX_EMAIL_LENGTH} characters`);
  }
  return canonical;
}

/** `alice@example.com` → `a***@example.com`, for logs. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address[0]}***${address.slice(at)}`;
}
