/**
 * DKIM signatures on every message, rsa-sha256 or ed25519-sha256, added by
 * a nodemailer stream plugin on nodemailer's own pieces: its header parser,
 * its relaxed body hash and its relaxed header canonicalisation. The header
 * list is built here because nodemailer's signer names each header once and
 * only when present, so a relay could add a second Subject, From or
 * Content-Type above the signed one and the signature still verified;
 * every header of the set is named once more than it occurs (RFC 6376
 * §5.4.2, §8.15), which a verifier reads as "no further instance". The
 * signature itself is node:crypto's: RSA over the canonical headers with
 * SHA-256, Ed25519 over their SHA-256 (RFC 8463 §3).
 */
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { domainToASCII } from 'node:url';
import nodemailer, { type Transporter } from 'nodemailer';
import MessageParser from 'nodemailer/lib/dkim/message-parser';
import RelaxedBody from 'nodemailer/lib/dkim/relaxed-body';
import dkimSign from 'nodemailer/lib/dkim/sign';
import mimeFuncs from 'nodemailer/lib/mime-funcs';
import type { Config } from '../config';

export type DkimSettings = NonNullable<Config['email']['dkim']>;

/** The headers signed, each as often as it occurs and once more, so none can be added; the same for both key types. */
const SIGNED_HEADERS = [
  'from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'to', 'cc',
  'mime-version', 'content-type', 'content-transfer-encoding', 'content-language',
];

/** nodemailer's relaxed header canonicalisation (its typings describe the module's default export instead). */
const relaxedHeaders = (dkimSign as unknown as {
  relaxedHeaders(headers: MessageParser.Header[], fieldNames: string): { headers: string; fieldNames: string };
}).relaxedHeaders;

/**
 * A nodemailer transporter whose every message, SMTP or stream, carries a DKIM signature when `dkim` is set.
 * @internal (left out of the published types: a host need not have nodemailer's)
 */
export function createSigningTransport(options: object, dkim: DkimSettings | undefined): Transporter {
  const transporter = nodemailer.createTransport(options as Parameters<typeof nodemailer.createTransport>[0]);
  if (dkim) {
    const key = createPrivateKey(dkim.privateKey);
    transporter.use('stream', (mail, done) => {
      mail.message.processFunc((input) => signedStream(input, dkim, key));
      done();
    });
  }
  return transporter;
}

/** The message of `input` with a DKIM-Signature header on top. */
function signedStream(input: Readable, dkim: DkimSettings, key: KeyObject): Readable {
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  input.on('data', (chunk: Buffer) => chunks.push(chunk));
  input.on('error', (err) => output.destroy(err));
  input.on('end', () => {
    const message = Buffer.concat(chunks);
    dkimSignature(message, dkim, key).then(
      (header) => output.end(Buffer.concat([Buffer.from(header), message])),
      (err: Error) => output.destroy(err),
    );
  });
  return output;
}

/**
 * The signed headers, canonical, bottom instance first (RFC 6376 §5.4.2),
 * and the h= list naming each header once more than it occurs.
 */
function canonicalHeaders(parsed: MessageParser.Header[]): { headers: string; fieldNames: string } {
  let headers = '';
  const names: string[] = [];
  for (const name of SIGNED_HEADERS) {
    for (const header of parsed.filter((h) => h.key === name).reverse()) {
      headers += relaxedHeaders([header], name).headers;
      names.push(name);
    }
    names.push(name);
  }
  return { headers, fieldNames: names.join(':') };
}

/**
 * The DKIM-Signature header line (with its CRLF) for `message`, signed with `key` (RSA or Ed25519).
 * @internal
 */
export async function dkimSignature(message: Buffer, dkim: DkimSettings, key: KeyObject): Promise<string> {
  const parser = new MessageParser();
  const body = new RelaxedBody({ hashAlgo: 'sha256' });
  const headers = new Promise<MessageParser.Header[]>((resolve) => parser.once('headers', resolve));
  const bodyHash = new Promise<string>((resolve) => body.once('hash', (digest) => resolve(String(digest))));
  const failed = new Promise<never>((_, reject) => {
    parser.once('error', reject);
    body.once('error', reject);
  });
  parser.pipe(body).resume();
  parser.end(message);
  const [parsed, hash] = await Promise.race([Promise.all([headers, bodyHash]), failed]);
  const signed = canonicalHeaders(parsed);
  const tags = [
    'v=1',
    `a=${dkim.algorithm}`,
    'c=relaxed/relaxed',
    `d=${domainToASCII(dkim.domain) || dkim.domain}`,
    'q=dns/txt',
    `s=${dkim.selector}`,
    `bh=${hash}`,
    `h=${signed.fieldNames}`,
  ].join('; ');
  const unsigned = `${mimeFuncs.foldLines(`DKIM-Signature: ${tags}`, 76)};\r\n b=`;
  // The header as it is signed: canonical, its b= empty, no CRLF after it (RFC 6376 §3.7).
  const ownLine = relaxedHeaders([{ key: 'dkim-signature', line: unsigned }], 'DKIM-Signature').headers.replace(/\r\n$/, '');
  const data = Buffer.from(signed.headers + ownLine);
  const signature =
    dkim.algorithm === 'ed25519-sha256' ? sign(null, createHash('sha256').update(data).digest(), key) : sign('sha256', data, key);
  return `${unsigned}${signature.toString('base64').match(/.{1,72}/g)!.join('\r\n ')}\r\n`;
}
