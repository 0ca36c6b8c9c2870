import { connect, type AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { PermanentDeliveryError } from '../../../src/delivery/errors';
import type { MailMessage } from '../../../src/delivery/mail-message';
import { createSmtpTransport, type MailTransport } from '../../../src/delivery/mail-transport';
import { SmtpConnectionLane } from '../../../src/delivery/smtp-connection-lane';
import { dataOf } from '../../../src/delivery/smtp-transaction';
import { startStrictSmtp, type StrictSmtpRefusals } from '../../support/strict-smtp';

// The mail transaction is written by the module itself (PIPELINING when
// offered), on connections nodemailer opens: each step's refusal, a server
// without PIPELINING, and lines that start with a dot.

const DOTTED = '.\nA line of one dot above, and\n..two dots\n.hidden\nend\n';
const message = (to: string, text = 'Open the link\n'): MailMessage => ({
  messageId: `<${to}@example.org>`,
  from: 'Example <noreply@example.org>',
  to,
  subject: 'Validate your address',
  text,
  html: '<p>Open the link</p>',
});

const plainSmtp = (port: number) => createSmtpTransport({ host: '127.0.0.1', port, requireTransportSecurity: false, forceTls: false, enableTls: false });

async function refusal(transport: MailTransport, mail: MailMessage): Promise<Error & { responseCode?: number }> {
  try {
    await transport.send(mail);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the send to fail');
}

type Step = 'MAIL' | 'RCPT' | 'message';

/** A real SMTP server (smtp-server) that refuses `refuse.step` with `refuse.code` for addresses starting with `refused`. */
async function realServer(pipelining: boolean, refuse?: { step: Step; code: number }) {
  const received: Array<{ to: string; text: string }> = [];
  const refuses = (step: Step, address: string) => refuse?.step === step && address.startsWith('refused');
  const failure = () => Object.assign(new Error('refused'), { responseCode: refuse!.code });
  const options: SMTPServerOptions = {
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    hidePIPELINING: !pipelining,
    logger: false,
    onMailFrom: (_address, _session, callback) => callback(),
    onRcptTo: (address, _session, callback) => callback(refuses('RCPT', address.address) ? failure() : undefined),
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        const to = session.envelope.rcptTo[0].address;
        if (refuses('message', to)) return callback(failure());
        received.push({ to, text: (await simpleParser(Buffer.concat(chunks))).text ?? '' });
        callback(null, 'queued');
      });
    },
  };
  // MAIL FROM is refused by its sender, which is the same for every message: refused for the first message only.
  let mailRefused = false;
  if (refuse?.step === 'MAIL') {
    options.onMailFrom = (_address, _session, callback) => {
      if (mailRefused) return callback();
      mailRefused = true;
      callback(failure());
    };
  }
  const server = new SMTPServer(options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.server.address() as AddressInfo).port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('the SMTP mail transaction', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  /** A transport to `server`, both closed after the test. */
  const transportTo = <S extends { port: number; close(): unknown }>(server: S): { server: S; smtp: MailTransport } => {
    closers.push(() => server.close());
    const smtp = plainSmtp(server.port);
    closers.push(() => smtp.close());
    return { server, smtp };
  };

  it.each([true, false])('delivers messages whose lines start with dots whole, PIPELINING offered: %s', async (pipelining) => {
    const { server, smtp } = transportTo(await realServer(pipelining));
    await smtp.send(message('a@example.org', DOTTED));
    await smtp.send(message('b@example.org', DOTTED));
    expect(server.received).toEqual([
      { to: 'a@example.org', text: DOTTED },
      { to: 'b@example.org', text: DOTTED },
    ]);
  });

  describe.each([true, false])('with PIPELINING offered: %s', (pipelining) => {
    it.each([
      ['MAIL', 451, false],
      ['MAIL', 550, false],
      ['RCPT', 451, false],
      ['RCPT', 550, true],
      ['message', 451, false],
      ['message', 554, true],
    ] as const)('a %s refused with %d fails (final: %s), and the next message goes', async (step, code, final) => {
      const { server, smtp } = transportTo(await realServer(pipelining, { step, code }));
      const err = await refusal(smtp, message('refused@example.org'));
      expect(err instanceof PermanentDeliveryError).toBe(final);
      if (!final) expect(err.responseCode).toBe(code);
      await smtp.send(message('fine@example.org'));
      expect(server.received.map(({ to }) => to)).toEqual(['fine@example.org']);
    });
  });

  it('sends MAIL FROM, RCPT TO and DATA together to a server offering PIPELINING', async () => {
    const { server, smtp } = transportTo(await startStrictSmtp({ pipelining: true }));
    await smtp.send(message('a@example.org'));
    expect(server.pipelined).toEqual(['RCPT', 'DATA']);
    expect(server.messages).toHaveLength(1);
  });

  it('waits for each reply when the server does not offer PIPELINING', async () => {
    const { server, smtp } = transportTo(await startStrictSmtp({ pipelining: false }));
    await smtp.send(message('a@example.org'));
    await smtp.send(message('b@example.org'));
    expect(server.pipelined).toEqual([]);
    expect(server.messages).toHaveLength(2);
  });

  it.each([
    [{ DATA: '451 4.3.0 not now' }, false],
    [{ DATA: '554 5.7.1 no' }, true],
    [{ MAIL: '421 4.7.0 closing' }, false],
  ] as Array<[StrictSmtpRefusals, boolean]>)('fails a DATA or MAIL refused as %j, final: %s', async (refuse, final) => {
    for (const pipelining of [true, false]) {
      const { server, smtp } = transportTo(await startStrictSmtp({ pipelining, refuse }));
      const err = await refusal(smtp, message('a@example.org'));
      expect(err instanceof PermanentDeliveryError).toBe(final);
      expect(server.ended).toBe(0);
    }
  });

  // Only a 2xx accepts: a reply without a code, or a 1xx, recorded as "sent" lost the message for good.
  it.each([
    [{ message: 'queued, trust me' }],
    [{ message: '199 odd' }],
    [{ RCPT: 'whatever you say' }],
    [{ MAIL: '150 maybe' }],
  ] as Array<[StrictSmtpRefusals]>)('fails, for a retry, a command or message answered %j', async (refuse) => {
    for (const pipelining of [true, false]) {
      const { server, smtp } = transportTo(await startStrictSmtp({ pipelining, refuse }));
      const err = await refusal(smtp, message('a@example.org'));
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    }
  });

  // A close() (the module stopping) while the connection still opened sent QUIT in the middle of
  // the message's DATA: the server took "QUIT" as its first line, and the send failed, to be sent again.
  it('waits for a message whose connection is still opening before it quits', async () => {
    const server = await realServer(true);
    closers.push(() => server.close());
    const lane = new SmtpConnectionLane({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true } as ConstructorParameters<typeof SmtpConnectionLane>[0], () =>
      connect(server.port, '127.0.0.1'),
    );
    const raw = Buffer.from('From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n');
    const sent = lane.sendMail({ raw, envelope: { from: 'a@example.org', to: ['b@example.org'] }, direct: true });
    lane.close();
    await sent;
    expect(server.received).toEqual([{ to: 'b@example.org', text: 'body\n' }]);
  });

  it('sends no message when DATA is accepted after its recipient was refused', async () => {
    const { server, smtp } = transportTo(await startStrictSmtp({ pipelining: true, refuse: { RCPT: '550 5.1.1 no such user' } }));
    expect(await refusal(smtp, message('a@example.org'))).toBeInstanceOf(PermanentDeliveryError);
    expect(server.ended).toBe(0);
  });

  it('fails, and sends nothing again, when the connection drops once the message has gone', async () => {
    const { server, smtp } = transportTo(await startStrictSmtp({ pipelining: true, refuse: { message: 'hang up' } }));
    const err = await refusal(smtp, message('a@example.org'));
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(err).toMatchObject({ code: 'ECONNECTION' });
    // The next message opens a connection of its own, and is the only other one the server sees.
    await refusal(smtp, message('b@example.org'));
    expect(server.ended).toBe(2);
  });
});

describe('DATA', () => {
  it('doubles a dot that starts a line, and ends with CRLF.CRLF', () => {
    expect(dataOf(Buffer.from('.a\r\nb\r\n..c\r\n.\r\n')).toString()).toBe('..a\r\nb\r\n...c\r\n..\r\n.\r\n');
    expect(dataOf(Buffer.from('a\r\nb')).toString()).toBe('a\r\nb\r\n.\r\n');
    expect(dataOf(Buffer.from('a.b\r\n')).toString()).toBe('a.b\r\n.\r\n');
  });
});
