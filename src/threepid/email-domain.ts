import { domainToASCII, domainToUnicode } from 'node:url';
import { ThreepidError } from './errors';

/**
 * The one spelling of an email domain: UTS-46-mapped (as URLs map host
 * names), then written in Unicode. Lower-casing alone left a mailbox with
 * several spellings, each a different stored address that mail reached
 * alike, so a bound address was "not in use" under another: `example.com。`
 * (ideographic full stop) and `example.com｡` both went to `example.com.`,
 * `xn--strae-oqa.de` is `straße.de`, and `victim.com。attacker.net` was
 * stored as typed but mailed to `victim.com.attacker.net`.
 *
 * Unicode rather than the ASCII form: Synapse stores the domain as typed,
 * lower-cased, so an address typed in Unicode is stored alike by both, and
 * the user reads their own domain back. The mail goes to this address as
 * stored (over SMTPUTF8, or with the domain in its ASCII form: the same
 * host). A trailing dot (the root, written out) is refused: it is another
 * spelling of the same domain.
 */
export function canonicaliseDomain(domain: string): string {
  const ascii = domainToASCII(domain);
  if (ascii.endsWith('.')) throw new ThreepidError('M_INVALID_PARAM', 'The email domain ends with a dot');
  const unicode = ascii === '' ? '' : domainToUnicode(ascii);
  // Node 20 maps a label that is not valid punycode (`xn--zz`) to ''; newer
  // engines follow today's URL standard, which no longer checks, and hand
  // it back still an A-label. Both are refused alike, as is a form that
  // does not come back to the same ASCII spelling.
  if (unicode === '' || unicode.split('.').some((label) => label.startsWith('xn--')) || domainToASCII(unicode) !== ascii) {
    throw new ThreepidError('M_INVALID_PARAM', 'The email address has an invalid domain');
  }
  return unicode;
}
