import type { MailMessage } from '../../src/delivery/mail-message';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerAuthentication } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
  /** The message came over TLS (STARTTLS, or TLS from the first byte). */
  secure: boolean;
}

export interface SmtpSink {
  port: number;
  messages: ReceivedMail[];
  /** The next message not yet taken with `next` (in arrival order); fails unless it is addressed to `to` alone. */
  next(to: string): Promise<ReceivedMail>;
  /** Resolves when `count` messages have arrived in all (fails after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /**
   * The `n`th message (1-based) addressed to `to` alone, once it has arrived:
   * a test whose addresses are its own finds its messages whatever other
   * tests sent before or meanwhile.
   */
  nthTo(to: string, n: number, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback. `reject` makes it refuse recipients with a
 * permanent 550 (or a temporary 451), for delivery-failure tests;
 * `answerAfterMs` makes it a slow server, that takes each message at once
 * and answers it that much later.
 */
export async function startSmtpSink(
  options: {
    port?: number;
    reject?: 550 | 451;
    startTls?: boolean;
    answerAfterMs?: number;
    /** The server's own key and certificate (STARTTLS is offered with them; with `implicitTls`, TLS from the first byte). */
    tls?: { key: string; cert: string };
    implicitTls?: boolean;
    /** Offer AUTH (PLAIN and LOGIN, over plain text too) and take only these credentials. */
    auth?: { user: string; pass: string };
    /** The AUTH mechanisms offered with `auth` (PLAIN and LOGIN unless named). */
    authMethods?: string[];
  } = {},
): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const waiters: Array<() => void> = [];
  /** Resolves once `done()` holds, woken by each message that arrives; fails with `what()` after `timeoutMs`. */
  const arrived = async (done: () => boolean, what: () => string, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(what());
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  const server = new SMTPServer({
    authOptional: true,
    // startTls: STARTTLS offered, with smtp-server's own self-signed certificate.
    disabledCommands: options.startTls || options.tls ? [] : ['STARTTLS'],
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    secure: options.implicitTls ?? false,
    logger: false,
    ...(options.auth
      ? {
          authMethods: options.authMethods ?? ['PLAIN', 'LOGIN'],
          allowInsecureAuth: true,
          onAuth(auth: SMTPServerAuthentication, _session: unknown, callback: (err: Error | null, response?: { user: string }) => void) {
            if (auth.username === options.auth!.user && auth.password === options.auth!.pass) return callback(null, { user: auth.username });
            callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
          },
        }
      : {}),
    onRcptTo(address, _session, callback) {
      if (options.reject) {
        const err = new Error(options.reject === 550 ? 'mailbox unavailable' : 'try again later') as Error & {
          responseCode: number;
        };
        err.responseCode = options.reject;
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const parsed = await simpleParser(raw);
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          subject: parsed.subject ?? '',
          text: parsed.text ?? '',
          html: typeof parsed.html === 'string' ? parsed.html : '',
          raw,
          secure: session.secure,
        });
        waiters.splice(0).forEach((wake) => wake());
        // Named as real servers name what they queued.
        const queued = () => callback(null, `OK: message queued as TEST${messages.length}`);
        if (options.answerAfterMs) setTimeout(queued, options.answerAfterMs);
        else queued();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A client that dies mid-conversation (a replica killed with SIGKILL) resets
  // its connection: a real server shrugs that off, and so does this one.
  // So does a client that hangs up during the TLS handshake (it refused the certificate).
  server.on('error', (err: Error & { code?: string }) => {
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE' && err.code !== 'TLSError' && err.code !== 'SocketError') throw err;
  });
  const port = (server.server.address() as AddressInfo).port;
  let taken = 0;
  const sink: SmtpSink = {
    port,
    messages,
    async next(to) {
      taken += 1;
      const mail = (await sink.waitFor(taken))[taken - 1];
      if (mail.to.length !== 1 || mail.to[0] !== to) throw new Error(`expected a message to ${to}, got one to ${mail.to.join(', ')}`);
      return mail;
    },
    async waitFor(count, timeoutMs = 10_000) {
      await arrived(() => messages.length >= count, () => `expected ${count} messages, got ${messages.length}`, timeoutMs);
      return messages.slice(0, count);
    },
    async nthTo(to, n, timeoutMs = 10_000) {
      const mine = () => messages.filter((mail) => mail.to.length === 1 && mail.to[0] === to);
      await arrived(() => mine().length >= n, () => `expected ${n} messages to ${to}, got ${mine().length}`, timeoutMs);
      return mine()[n - 1];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return sink;
}

/** The validation link in an email's plain-text part. */
export function linkIn(mail: ReceivedMail): URL {
  const match = /https?:\/\/\S+\/validate\?\S+/.exec(mail.text);
  if (!match) throw new Error(`no link in message: ${mail.text}`);
  return new URL(match[0]);
}

/** A validation email as the outbox hands it to a transport, to `to`, with a fixed link. */
export function validationMail(to: string): MailMessage {
  return {
    messageId: `<${to.replace('@', '.')}@example.org>`,
    from: 'Example <noreply@example.org>',
    to,
    subject: 'Validate your address',
    text: 'Open https://example.org/validate?token=abc',
    html: '<p>Open <a href="https://example.org/validate?token=abc">the link</a></p>',
  };
}
