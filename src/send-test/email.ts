import type { Socket } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import path from 'node:path';
import type { Config } from '../config';
import { createSigningTransport } from '../delivery/dkim';
import {
  composeForSmtp,
  createFileTransport,
  smtpConnectionOptions,
  smtpSendFailure,
  socketHandedOver,
  type MailTransport,
  type SmtpTransportSettings,
} from '../delivery/mail-transport';
import { parseSender } from '../delivery/mime';
import { SendDeadlineError } from '../delivery/errors';
import { sendWithinDeadline } from '../delivery/send-deadline';
import type { Logger } from '../logger';
import { processMonotonicClock } from '../sources';
import { sendTestEmail } from './messages';
import type { SendTestOutput } from './output';

/** Client commands shown as they were sent; any other client line (an AUTH exchange's) is hidden. */
const SHOWN_COMMAND = /^(EHLO|HELO|LHLO|STARTTLS|MAIL FROM|RCPT TO|DATA|QUIT|RSET)\b/i;

/** A client line as printed: never the credentials an AUTH exchange carries. */
function clientLine(line: string): string {
  if (SHOWN_COMMAND.test(line)) return line;
  const auth = /^AUTH\s+(\S+)/i.exec(line);
  return auth ? `AUTH ${auth[1].toUpperCase()} <hidden>` : '<hidden>';
}

/** The command a client line sends, as nodemailer names it in its errors; undefined for a line inside an AUTH exchange. */
function commandOf(line: string): string | undefined {
  return /^(EHLO|HELO|LHLO|STARTTLS|MAIL FROM|RCPT TO|DATA|QUIT|RSET|AUTH)\b/i.exec(line)?.[1].toUpperCase();
}

/** The DKIM-Signature's tags worth reading (algorithm, domain, selector), off the message as it went out. */
function dkimTags(message: string): string | undefined {
  const headers = message.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const signature = /^DKIM-Signature:(.*)$/im.exec(headers)?.[1];
  if (!signature) return undefined;
  const tag = (name: string) => new RegExp(`(?:^|;)\\s*${name}=([^;]*)`).exec(signature)?.[1].trim();
  return `a=${tag('a')}, d=${tag('d')}, s=${tag('s')}`;
}

/** The stage from the connection (or its TLS handshake) to the server's 220. */
const GREETING = "the server's greeting";

const describe = (name: PeerCertificate['subject'] | undefined) =>
  name ? Object.entries(name).map(([key, value]) => `${key}=${String(value)}`).join(', ') : '(none)';

/**
 * Sends the test email over SMTP as the outbox does (the same connection
 * settings, the same signing, the same MIME), on one connection of its own,
 * and prints the conversation. Answers whether the server took the message.
 */
async function overSmtp(config: Config, smtp: SmtpTransportSettings, to: string, out: SendTestOutput): Promise<boolean> {
  const how = smtp.forceTls ? 'TLS from the first byte (force_tls)' : smtp.enableTls === false ? 'plain (enable_tls: false)' : smtp.requireTransportSecurity ? 'STARTTLS required' : 'STARTTLS when offered';
  out.line(`email: SMTP server ${smtp.host}:${smtp.port}, ${how}${smtp.user !== undefined ? `, AUTH as ${smtp.user}` : ''}`);
  let secure = '';
  let certificate: PeerCertificate | undefined;
  let message = '';
  // Where the conversation is: nodemailer names a timeout or a dropped
  // connection "CONN" at any stage (before the greeting, in a TLS
  // handshake), so the stage is followed here.
  let stage: string | undefined;
  let handshakeBegun = false;
  const beginHandshake = (name: string) => {
    handshakeBegun = true;
    stage = name;
  };
  const record = (entry: { tnx?: string }, text: string, ...args: unknown[]) => {
    const line = String(text);
    if (entry.tnx === 'client') {
      out.line(`C: ${clientLine(line)}`);
      stage = commandOf(line) ?? stage;
    } else if (entry.tnx === 'server') {
      for (const reply of line.split(/\r?\n/)) out.line(`S: ${reply}`);
      if (stage === 'STARTTLS' && /^220/.test(line)) beginHandshake('the TLS handshake after STARTTLS');
    } else if (entry.tnx === 'message') {
      message += line;
      stage = 'the message body';
    } else if (/upgraded with STARTTLS/.test(line)) {
      secure = 'upgraded with STARTTLS';
    } else if (/^%s established/.test(line) && args[0] === 'Secure connection') {
      secure = 'TLS from the first byte';
      stage = GREETING;
    }
  };
  // nodemailer's logger: with `debug`, every line each side sent, and the message as it went out.
  const logger = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [level, record]));
  const options = smtpConnectionOptions(smtp);
  const tls = {
    ...options.tls,
    // The same check Node makes, and the certificate it was made on kept for the transcript.
    checkServerIdentity: (host: string, cert: PeerCertificate) => {
      certificate = cert;
      return checkServerIdentity(host, cert);
    },
  };
  // The connection is kept, to be cut off should the send pass its deadline:
  // closing the transporter leaves a send in progress as it is.
  const sockets: Socket[] = [];
  let connected = false;
  const getSocket = socketHandedOver(smtp, (socket) => {
    sockets.push(socket);
    socket.once('connect', () => {
      connected = true;
      // With force_tls the server's first bytes are its side of the handshake.
      if (smtp.forceTls) beginHandshake('the TLS handshake');
      else stage = GREETING;
    });
  });
  const transporter = createSigningTransport({ ...options, tls, logger, debug: true, getSocket }, smtp.dkim);
  const started = processMonotonicClock.monotonicNow();
  try {
    const composed = await composeForSmtp(await rendered(config, to), parseSender(config.email.notifFrom));
    let info: { response?: string } = {};
    stage = 'the connection';
    // The outbox's own deadline, so that a server that never answers (or
    // answers a byte at a time) fails the test as it would fail a send.
    await sendWithinDeadline(async () => void (info = (await transporter.sendMail(composed)) as { response?: string }), config.outbox.sendTimeoutMs, 0);
    out.line(`result: the server accepted the message: ${info.response ?? '(no reply text)'}`);
    return true;
  } catch (err) {
    const { response, command } = err as { response?: string; command?: string };
    const failure = smtpSendFailure(err);
    const at = command === undefined || command === 'CONN' ? stage : command;
    const deadline = err instanceof SendDeadlineError ? ' (outbox.send_timeout)' : '';
    out.problem(`result: not sent: ${failure.message}${deadline}${at ? ` (at ${at})` : ''}${response ? `: ${response}` : ''}`);
    return false;
  } finally {
    transporter.close();
    for (const socket of sockets) socket.destroy();
    out.line(`TLS: ${secure ? `yes, ${secure}` : handshakeBegun ? 'no: not established (the TLS handshake did not complete)' : connected ? 'no: the connection was plain text' : 'no: no connection was made'}`);
    if (certificate) {
      out.line(`TLS: certificate subject ${describe(certificate.subject)}; issuer ${describe(certificate.issuer)}; valid until ${certificate.valid_to}`);
    } else if (secure && smtp.tlsInsecure) {
      out.line('TLS: certificate not checked (email.tls_insecure)');
    }
    const dkim = dkimTags(message);
    out.line(`DKIM: ${dkim ? `signed (${dkim})` : smtp.dkim ? 'configured, but no DKIM-Signature went out' : 'not signed (no email.dkim)'}`);
    out.line(`time: ${Math.round(processMonotonicClock.monotonicNow() - started)} ms`);
  }
}

/** The rendered test message, as the outbox's transport would get it. */
async function rendered(config: Config, to: string) {
  let message: Parameters<MailTransport['send']>[0] | undefined;
  await sendTestEmail(config, to, { send: async (built) => void (message = built), close() {} });
  return message!;
}

/** No SMTP configured: the file the development transport writes, named. */
async function toFile(config: Config, to: string, out: SendTestOutput): Promise<boolean> {
  out.line(`email: no SMTP configured (email.smtp_host is not set): the module writes each email to a file in ${path.resolve(config.email.devMailDir)} instead (development only)`);
  const logger: Logger = { debug() {}, info: (fields) => out.line(`file: ${(fields as { file?: string }).file ?? '(unnamed)'}`), warn() {}, error() {} };
  const transport = createFileTransport(config.email.devMailDir, logger, config.email.dkim);
  try {
    await sendTestEmail(config, to, transport);
  } catch (err) {
    out.problem(`result: not written: ${(err as Error).message}`);
    return false;
  } finally {
    transport.close();
  }
  out.line(`DKIM: ${config.email.dkim ? `signed (${config.email.dkim.algorithm}, d=${config.email.dkim.domain}, s=${config.email.dkim.selector})` : 'not signed (no email.dkim)'}`);
  out.line('result: written (no message left this machine)');
  return true;
}

/** `--send-test email ADDRESS`: one real email, through what is configured. */
export async function emailSendTest(config: Config, to: string, out: SendTestOutput): Promise<boolean> {
  out.line(`send test: the registration email to ${to}, from ${config.email.notifFrom}`);
  const { smtp, dkim } = config.email;
  return smtp ? overSmtp(config, { ...smtp, dkim }, to, out) : toFile(config, to, out);
}
