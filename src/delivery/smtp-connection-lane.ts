import type { Socket } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { RawMail } from './smtp-lanes';
import { sendTransaction, type OpenSmtpConnection } from './smtp-transaction';

/** A message for one lane: raw MIME and its envelope; `direct` when both are plain ASCII and 7-bit (then the transaction is written here). */
export interface LaneMail extends RawMail {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly direct: boolean;
}

/** nodemailer's connection options (`smtpConnectionOptions` in ./mail-transport), of which the login is read here. */
export type LaneConnectionOptions = object & { readonly auth?: { readonly user: string; readonly pass: string } };

/** Messages on one connection before it is closed and another opened, as nodemailer's pool did. */
const MESSAGES_PER_CONNECTION = 100;
/** How long a connection closed during its set-up waits for the error that says why, as nodemailer's pool did. */
const CLOSE_REASON_WAIT_MS = 1_000;

interface Open {
  readonly connection: SMTPConnection;
  /** Rejects when the connection fails or closes. */
  readonly lost: Promise<never>;
  sent: number;
}

/**
 * One SMTP connection, opened when a message comes and kept open for the
 * next. nodemailer greets, secures (TLS, STARTTLS) and logs in; the mail
 * transaction of a message in the one shape the module composes is
 * written by {@link sendTransaction}, and any other message is sent by
 * nodemailer (SMTPUTF8 for an address that is not ASCII). A failed send
 * closes the connection and is never sent again from here.
 */
export class SmtpConnectionLane {
  private open: Promise<Open> | undefined;
  private sending = false;
  private closed = false;

  constructor(
    private readonly options: LaneConnectionOptions,
    /** Makes the connection's socket: nodemailer is handed it while it still connects. */
    private readonly connectSocket: () => Socket,
  ) {}

  async sendMail(mail: LaneMail): Promise<void> {
    if (this.closed) throw new Error('SMTP connection closed');
    this.open ??= this.connect();
    const opening = this.open;
    // Busy from here: a close() while the connection still opens must wait
    // for this message, not QUIT in the middle of its DATA.
    this.sending = true;
    let open: Open;
    try {
      open = await opening;
    } catch (err) {
      this.sending = false;
      if (this.open === opening) this.open = undefined;
      throw err;
    }
    try {
      await Promise.race([this.transaction(open.connection, mail), open.lost]);
    } catch (err) {
      this.drop(opening, open);
      throw err;
    } finally {
      this.sending = false;
    }
    open.sent += 1;
    if (open.sent >= MESSAGES_PER_CONNECTION || this.closed) this.drop(opening, open, 'quit');
  }

  /** Closes the connection now, or once the message it carries is sent. */
  close(): void {
    this.closed = true;
    const opening = this.open;
    if (!this.sending && opening) void opening.then((open) => this.drop(opening, open, 'quit'), () => undefined);
  }

  private transaction(connection: SMTPConnection, mail: LaneMail): Promise<void> {
    const raw = Buffer.isBuffer(mail.raw) ? mail.raw : Buffer.from(mail.raw);
    if (mail.direct) return sendTransaction(connection as unknown as OpenSmtpConnection, mail.envelope.from, mail.envelope.to[0], raw);
    return new Promise<void>((resolve, reject) => {
      connection.send({ from: mail.envelope.from, to: [...mail.envelope.to] }, raw, (err) => (err ? reject(err) : resolve()));
    });
  }

  private drop(opening: Promise<Open>, open: Open, how: 'quit' | 'close' = 'close'): void {
    if (this.open === opening) this.open = undefined;
    if (how === 'quit') open.connection.quit();
    else open.connection.close();
  }

  /** A connection greeted, secured and logged in as the options say, as nodemailer's pool made them. */
  private connect(): Promise<Open> {
    const opening = new Promise<Open>((resolve, reject) => {
      const connection = new SMTPConnection({ ...this.options, connection: this.connectSocket() } as SMTPConnection.Options);
      let settled = false;
      const settle = (err: Error | undefined) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(open);
      };
      let loseWith: (err: Error) => void = () => undefined;
      const lost = new Promise<never>((_, rejectLost) => (loseWith = rejectLost));
      lost.catch(() => undefined);
      const open: Open = { connection, lost, sent: 0 };
      connection.on('error', (err: Error) => {
        loseWith(err);
        settle(err);
      });
      connection.once('end', () => {
        if (this.open === opening) this.open = undefined;
        loseWith(Object.assign(new Error('SMTP connection closed'), { code: 'ECONNECTION' }));
        if (settled) return;
        const upgrading = (connection as unknown as { _socket?: { upgrading?: boolean } })._socket?.upgrading;
        const timer = setTimeout(() => settle(Object.assign(new Error('Unexpected socket close'), upgrading ? { code: 'ETLS' } : {})), CLOSE_REASON_WAIT_MS);
        timer.unref();
      });
      connection.connect(() => {
        const { auth } = this.options;
        // As nodemailer's pool: no user and no password is no login.
        if (settled || !auth || (!auth.user && !auth.pass) || !(connection as unknown as { allowsAuth: boolean }).allowsAuth) return settle(undefined);
        const credentials = { user: auth.user, credentials: { user: auth.user, pass: auth.pass } };
        connection.login(credentials as SMTPConnection.AuthenticationCredentials, (err) => {
          if (err) connection.close();
          settle(err ?? undefined);
        });
      });
    });
    return opening;
  }
}
