import { connect, type Socket } from 'node:net';
import { cryptoRandom } from '../sources';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import MailComposer from 'nodemailer/lib/mail-composer';
import { PermanentDeliveryError } from './errors';
import type { MailMessage } from './mail-message';
import { composeAlternative, parseSender, type Sender } from './mime';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { DevMessageFiles } from './dev-files';
import { SmtpLanes } from './smtp-lanes';
import { createSigningTransport, dkimSignature } from './dkim';
import { SmtpConnectionLane } from './smtp-connection-lane';

/**
 * Named here rather than imported from ./dkim, so this file's declarations
 * (part of the package's types) do not reach nodemailer's typings, which a
 * host need not have.
 */
type DkimSettings = NonNullable<Config['email']['dkim']>;

/** The message as nodemailer's composer takes it: the language as a header. */
function composerInput(message: MailMessage) {
  const { language, ...rest } = message;
  return language ? { ...rest, headers: { 'Content-Language': language } } : rest;
}

/**
 * The narrow port delivery depends on. A failure that retrying cannot fix
 * (the server refused the recipient for good) is a {@link PermanentDeliveryError}.
 */
export interface MailTransport {
  /** `signal` aborts when the outbox's send deadline passes: the connection carrying the message is dropped. */
  send(message: MailMessage, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/** The SMTP settings, and the DKIM key every message is signed with, if any. */
export type SmtpTransportSettings = NonNullable<Config['email']['smtp']> & { readonly dkim?: DkimSettings };

/**
 * A connection that could not be made secure, said so: the outbox logs an
 * error's code (`ETLS`) or its SMTP reply (`SMTP 500`) rather than its text,
 * which would not say that TLS was what failed. The text here holds no
 * address, only the server's answer or the certificate's problem.
 */
function transportSecurityFailure(err: unknown): Error | undefined {
  const { code, command, responseCode, message } = err as { code?: string; command?: string; responseCode?: number; message?: string };
  if (command === 'STARTTLS' && responseCode !== undefined) {
    return new Error(`SMTP server did not upgrade the connection to TLS (it answered STARTTLS with ${responseCode}); require_transport_security refuses to send in plain text`);
  }
  // An SMTP reply is never a TLS failure: its text may echo the recipient
  // (`450 <certificate.office@…>: try later`), and is logged by its code alone.
  if (responseCode !== undefined) return undefined;
  if (code === 'ETLS' || /certificate|altnames/i.test(message ?? '')) return new Error(`TLS with the SMTP server failed: ${String(message).slice(0, 300)}`);
  return undefined;
}

/** Logged at start, and printed by `--check`, while `email.tls_insecure` is on. */
export const TLS_INSECURE_WARNING =
  "email.tls_insecure is on: the SMTP server's certificate is not checked, so anyone on the path can read the mail (tokens included)";

/**
 * Node's default CAs and those of NODE_EXTRA_CA_CERTS, which
 * `rootCertificates` leaves out. Node 22.15 and later list both in
 * `getCACertificates('default')`, but read the variable at start only; the
 * file is added as it is now (a CA named twice is harmless).
 */
function defaultCertificates(): string[] {
  const { getCACertificates } = tls as { getCACertificates?: (type: 'default') => string[] };
  const bundled = getCACertificates ? getCACertificates('default') : [...tls.rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!extra) return bundled;
  try {
    return [...bundled, readFileSync(extra, 'utf8')];
  } catch {
    // Node warned of it at start and trusts none of it either.
    return bundled;
  }
}

/**
 * How the server's certificate is checked: against `tlsname` (else the
 * host), by Node's CAs and those of `tls_ca_file`; not at all with
 * `tls_insecure`. Node's `ca` option replaces its CAs, so they are named too.
 */
export function certificateCheck(smtp: SmtpTransportSettings): ConnectionOptions {
  return {
    ...(smtp.tlsName ? { servername: smtp.tlsName } : {}),
    ...(smtp.tlsCa ? { ca: [...defaultCertificates(), smtp.tlsCa] } : {}),
    ...(smtp.tlsInsecure ? { rejectUnauthorized: false } : {}),
  };
}

/** SMTP connections at once: each carries one message at a time. */
const SMTP_CONNECTIONS = 4;

/**
 * nodemailer's connection options that are set here, written out rather
 * than named from its typings, which a host of the package need not have.
 */
export interface SmtpConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly requireTLS: boolean;
  readonly ignoreTLS: boolean;
  readonly auth: { readonly user: string; readonly pass: string } | undefined;
  readonly customAuth: { readonly XOAUTH2: (context: { authMethods: string[]; reject(err: Error): void }) => void };
  readonly connectionTimeout: number;
  readonly greetingTimeout: number;
  readonly socketTimeout: number;
  readonly tls: ConnectionOptions;
}

/**
 * A server whose AUTH offers none of the mechanisms a user and password can
 * log in with (PLAIN, LOGIN, CRAM-MD5). Its text names what the server
 * offers, and neither the user nor the password.
 */
export class NoUsableLoginError extends Error {
  constructor(offered: readonly string[]) {
    super(`the SMTP server offers no login method this module can use (it offers ${offered.join(', ') || 'none'})`);
    this.name = 'NoUsableLoginError';
  }
}

/**
 * nodemailer falls back on XOAUTH2 when the server offers nothing else, and
 * with no OAuth2 provider configured it threw a TypeError from its socket's
 * handler, uncaught: the SMTP thread (or the process) died with it. Handled
 * here, the attempt fails as a refused login does.
 */
function refuseXoauth2(context: { authMethods: string[]; reject(err: Error): void }): void {
  context.reject(new NoUsableLoginError(context.authMethods));
}

/**
 * How one connection to the server is made and secured: `force_tls` is TLS
 * from the first byte (port 465); otherwise STARTTLS is used when offered,
 * and required when `require_transport_security` is set. The outbox's
 * transport and `--send-test` both connect with these.
 */
export function smtpConnectionOptions(smtp: SmtpTransportSettings): SmtpConnectionOptions {
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.forceTls,
    requireTLS: smtp.requireTransportSecurity,
    // Synapse's `enable_tls: false`: plain SMTP even when STARTTLS is offered.
    ignoreTLS: smtp.enableTls === false,
    auth: smtp.user !== undefined ? { user: smtp.user, pass: smtp.pass ?? '' } : undefined,
    customAuth: { XOAUTH2: refuseXoauth2 },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    // (`noDelay` is a socket option tls.connect passes on; its type leaves it out.)
    tls: { noDelay: true, ...certificateCheck(smtp) } as ConnectionOptions,
  };
}

/**
 * nodemailer's `getSocket`: each connection made here, and told to
 * `onSocket`, so its owner can cut it off when a send passes its deadline.
 * Handed over while still connecting, in the same tick: nodemailer's
 * handlers are on it before it can fail, so a refused connection reaches
 * nodemailer as any connection error does. With `force_tls` nodemailer
 * starts TLS on it before the first byte.
 */
export function socketHandedOver(smtp: SmtpTransportSettings, onSocket: (socket: Socket) => void) {
  return (_options: unknown, callback: (err: Error | null, socketOptions: { connection: Socket }) => void): void => {
    const connection = connect({ host: smtp.host, port: smtp.port, noDelay: true });
    onSocket(connection);
    callback(null, { connection });
  };
}

/**
 * The message as it goes over SMTP: its envelope and its MIME text, built
 * whole; `direct` when composed here (plain ASCII addresses, 7-bit text).
 */
export type SmtpMessage = { envelope: { from: string; to: string[] }; raw: Buffer; direct: boolean };

/**
 * Builds `message` for SMTP. Built whole first, then handed over as one
 * buffer: streamed, each header line and encoded chunk was its own socket
 * write (a fifth of an email's CPU went to those writes).
 */
export async function composeForSmtp(message: MailMessage, sender: Sender | undefined): Promise<SmtpMessage> {
  const direct = sender && composeAlternative(message, sender, new Date(), cryptoRandom.bytes(12).toString('hex'));
  if (direct && sender) return { envelope: { from: sender.address, to: [message.to] }, raw: direct, direct: true };
  const mime = new MailComposer(composerInput(message)).compile();
  const envelope = mime.getEnvelope();
  return { envelope: { from: envelope.from || '', to: envelope.to }, raw: await mime.build(), direct: false };
}

/**
 * A failed send as the outbox sees it: a {@link PermanentDeliveryError} when
 * retrying cannot fix it, a transport-security failure said so, else the error.
 */
export function smtpSendFailure(err: unknown): Error {
  const { responseCode: code, command } = err as { responseCode?: number; command?: string };
  // A 5xx reply is final (RFC 5321 §4.2.1) when it refuses this recipient
  // or this message. A 5xx to STARTTLS, AUTH or MAIL FROM is the
  // server's setup or ours: retried, so mail waits until it is fixed.
  if (typeof code === 'number' && code >= 500 && code < 600 && (command === 'RCPT TO' || command === 'DATA')) {
    return new PermanentDeliveryError(`SMTP server refused the message (${code})`);
  }
  // Retried as a refused login (535) is: the server's setup can change.
  // Without nodemailer's code (EAUTH), the outbox records the text, which says why.
  if (err instanceof NoUsableLoginError) return new Error(err.message);
  return transportSecurityFailure(err) ?? (err as Error);
}

/** SMTP through nodemailer, pooled, each connection made as {@link smtpConnectionOptions} says. */
export function createSmtpTransport(smtp: SmtpTransportSettings): MailTransport {
  // Every message has the same sender (email.notif_from): parsed once, again only if it differs.
  let parsed: { from: string; sender: Sender | undefined } | undefined;
  const senderOf = (from: string) => {
    if (parsed?.from !== from) parsed = { from, sender: parseSender(from) };
    return parsed.sender;
  };
  const connection = smtpConnectionOptions(smtp);
  // A connection's socket is made here, without Nagle's algorithm (the end
  // of a message is a small write that would wait for the server's delayed
  // ACK), and handed to its lane while it still connects, so that a send
  // past its deadline can cut it off whatever stage it is at.
  const lanes = new SmtpLanes(SMTP_CONNECTIONS, (onSocket) => new SmtpConnectionLane(connection, () => {
    const socket = connect({ host: smtp.host, port: smtp.port, noDelay: true });
    onSocket(socket);
    return socket;
  }));
  const key = smtp.dkim && createPrivateKey(smtp.dkim.privateKey);
  const signed = async (mail: SmtpMessage): Promise<SmtpMessage> => {
    if (!smtp.dkim || !key) return mail;
    return { ...mail, raw: Buffer.concat([Buffer.from(await dkimSignature(mail.raw, smtp.dkim, key)), mail.raw]) };
  };
  return {
    async send(message, signal) {
      try {
        await lanes.send(await signed(await composeForSmtp(message, senderOf(message.from))), signal);
      } catch (err) {
        throw smtpSendFailure(err);
      }
    },
    close: () => lanes.close(),
  };
}

/**
 * The development transport: no SMTP configured, so each message is written
 * to `dir` as an `.eml` file and a plain `.txt` the user can open to follow
 * the link. The log line names the file, never the link (it holds the token).
 */
export function createFileTransport(dir: string, logger: Logger, dkim?: DkimSettings): MailTransport {
  // Signed as SMTP mail is, so the operator can read the DKIM-Signature
  // header; with the CRLF line ends it was signed with (nodemailer turns
  // them to Unix ones before it signs), so that the file verifies.
  const transporter = createSigningTransport({ streamTransport: true, buffer: true, ...(dkim ? {} : { newline: 'unix' }) }, dkim);
  const files = new DevMessageFiles(dir);
  return {
    async send(message) {
      const info = await transporter.sendMail(composerInput(message));
      // The .eml may wrap long lines (quoted-printable); the .txt keeps the link whole.
      const readable = `From: ${message.from}\nTo: ${message.to}\nSubject: ${message.subject}\n\n${message.text}`;
      const base = await files.write({ eml: info.message as Buffer, txt: readable });
      logger.info({ file: `${base}.txt` }, 'development mail transport: message written (open it to follow the link)');
    },
    close: () => transporter.close(),
  };
}
