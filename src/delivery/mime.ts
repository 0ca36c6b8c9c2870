/**
 * The one shape of message the module sends — a plain-text and an HTML part
 * of one text, from one configured sender to one address — put together
 * directly. nodemailer's general composer works out encodings, header
 * casing and a random boundary for every node of every message; here that
 * was most of the CPU an email cost, so under a sign-up wave it competed
 * with the requests. The encoding itself is still nodemailer's (its
 * quoted-printable and encoded-word functions); anything outside the shape
 * (an address that is not plain ASCII) is left to nodemailer's composer.
 */
import addressparser from 'nodemailer/lib/addressparser';
import mimeFuncs from 'nodemailer/lib/mime-funcs';
import qp from 'nodemailer/lib/qp';
import type { MailMessage } from './mail-message';

/** Printable ASCII, no spaces: what an address in a header may be as it is. */
const PLAIN_ADDRESS = /^[\x21-\x7e]+$/;
/** Printable ASCII and spaces: a header text that needs no encoding. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;
/** A display name that may stand unquoted. */
const ATOM_PHRASE = /^[A-Za-z0-9 ]*$/;

/** The sender, parsed once: its header value and its envelope address. */
export interface Sender {
  readonly header: string;
  readonly address: string;
}

/** `Name <address>` or a bare address, when it is plain enough for the direct path; else undefined. */
export function parseSender(from: string): Sender | undefined {
  const parsed = addressparser(from);
  if (parsed.length !== 1) return undefined;
  const [entry] = parsed;
  if (!('address' in entry) || !entry.address || !PLAIN_ADDRESS.test(entry.address)) return undefined;
  const name = entry.name.replace(/[\r\n]+/g, ' ').trim();
  if (!name) return { header: entry.address, address: entry.address };
  return { header: `${displayName(name)} <${entry.address}>`, address: entry.address };
}

/**
 * A display name as a phrase: as it is, quoted, or (not plain ASCII) the
 * whole name as encoded words, as nodemailer's composer does. Encoding only
 * its non-ASCII words would leave `<`, `(`, `,` of the rest bare in a
 * structured header: `"Émile <chef>"` read back as the address `chef`, and
 * `(Support)` as a comment that a reader drops.
 */
function displayName(name: string): string {
  if (!PLAIN_TEXT.test(name)) return mimeFuncs.encodeWord(name, 'Q', 52);
  return ATOM_PHRASE.test(name) ? name : `"${name.replace(/["\\]/g, '\\$&')}"`;
}

/** A header line folded to 76 columns; text that is not plain ASCII becomes encoded words. */
function header(key: string, value: string): string {
  const oneLine = value.replace(/[\r\n]+/g, ' ');
  const encoded = PLAIN_TEXT.test(oneLine) ? oneLine : mimeFuncs.encodeWords(oneLine, 'Q', 52);
  return mimeFuncs.foldLines(`${key}: ${encoded}`, 76);
}

/** A body as UTF-8 quoted-printable, with CRLF line ends and no line over 76 characters. */
function body(text: string): string {
  return qp.wrap(qp.encode(text.replace(/\r?\n/g, '\r\n')), 76);
}

/** RFC 5322 date, in UTC. */
function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/**
 * The whole message, CRLF line ends, ready for SMTP DATA; undefined when it
 * is outside the shape this handles (the caller uses nodemailer's composer).
 * `boundaryToken` must be unique to the message (hex or base64url); the
 * boundary starts with `=_`, which quoted-printable text can never contain.
 */
export function composeAlternative(message: MailMessage, sender: Sender, date: Date, boundaryToken: string): Buffer | undefined {
  if (!PLAIN_ADDRESS.test(message.to)) return undefined;
  const boundary = `=_threepid_${boundaryToken}`;
  const lines = [
    mimeFuncs.foldLines(`From: ${sender.header}`, 76),
    `To: ${message.to}`,
    header('Subject', message.subject),
    ...(message.messageId ? [`Message-ID: ${message.messageId}`] : []),
    `Date: ${rfc5322Date(date)}`,
    ...(message.language ? [`Content-Language: ${message.language}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative;',
    ` boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    body(message.text),
    `--${boundary}`,
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    body(message.html),
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}
