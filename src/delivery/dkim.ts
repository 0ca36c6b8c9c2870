/**
 * DKIM signatures on every message. RSA keys are nodemailer's own signer's
 * (the transport's `dkim` option). nodemailer signs only with RSA, so an
 * Ed25519 key (RFC 8463) is signed here, as a nodemailer stream plugin, on
 * nodemailer's own pieces: its header parser, its relaxed body hash and its
 * relaxed header canonicalisation; only the signature itself is added
 * (Ed25519 over the SHA-256 of the canonical headers, RFC 8463 §3).
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

/** The headers signed, when the message has them; the same for both key types. */
const SIGNED_HEADERS = 'From:Sender:Reply-To:Subject:Date:Message-ID:To:Cc:MIME-Version:Content-Type:Content-Transfer-Encoding:Content-Language';

/** nodemailer's relaxed header canonicalisation (its typings describe the module's default export instead). */
const relaxedHeaders = (dkimSign as unknown as {
  relaxedHeaders(headers: MessageParser.Header[], fieldNames: string): { headers: string; fieldNames: string };
}).relaxedHeaders;

/** A nodemailer transporter whose every message, SMTP or stream, carries a DKIM signature when `dkim` is set. */
export function createSigningTransport(options: object, dkim: DkimSettings | undefined): Transporter {
  const rsa =
    dkim?.algorithm === 'rsa-sha256'
      ? { dkim: { domainName: dkim.domain, keySelector: dkim.selector, privateKey: dkim.privateKey, headerFieldNames: SIGNED_HEADERS } }
      : {};
  const transporter = nodemailer.createTransport({ ...options, ...rsa } as Parameters<typeof nodemailer.createTransport>[0]);
  if (dkim?.algorithm === 'ed25519-sha256') {
    const key = createPrivateKey(dkim.privateKey);
    transporter.use('stream', (mail, done) => {
      mail.message.processFunc((input) => signedStream(input, dkim, key));
      done();
    });
  }
  return transporter;
}

/** The message of `input` with an Ed25519 DKIM-Signature header on top. */
function signedStream(input: Readable, dkim: DkimSettings, key: KeyObject): Readable {
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  input.on('data', (chunk: Buffer) => chunks.push(chunk));
  input.on('error', (err) => output.destroy(err));
  input.on('end', () => {
    const message = Buffer.concat(chunks);
    ed25519Signature(message, dkim, key).then(
      (header) => output.end(Buffer.concat([Buffer.from(header), message])),
      (err: Error) => output.destroy(err),
    );
  });
  return output;
}

/** The DKIM-Signature header line (with its CRLF) for `message`, signed with an Ed25519 key. */
export async function ed25519Signature(message: Buffer, dkim: DkimSettings, key: KeyObject): Promise<string> {
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
  const signed = relaxedHeaders(parsed, SIGNED_HEADERS);
  const tags = [
    'v=1',
    'a=ed25519-sha256',
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
  const digest = createHash('sha256').update(signed.headers + ownLine).digest();
  const signature = sign(null, digest, key).toString('base64');
  return `${unsigned}${signature.match(/.{1,72}/g)!.join('\r\n ')}\r\n`;
}
