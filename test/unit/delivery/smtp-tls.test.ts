import type { MailMessage } from '../../../src/delivery/mail-message';
import { createSmtpTransport } from '../../../src/delivery/mail-transport';
import { startSmtpSink, type SmtpSink } from '../../support/smtp';

const message: MailMessage = {
  messageId: '<tls-test@example.org>',
  from: 'Example <noreply@example.org>',
  to: 'someone@example.org',
  subject: 'Validate your address',
  text: 'Open the link',
  html: '<p>Open the link</p>',
};

/** Synapse's `email.enable_tls`, against a server that offers STARTTLS with a self-signed certificate. */
describe('SMTP and enable_tls', () => {
  let sink: SmtpSink;
  beforeEach(async () => {
    sink = await startSmtpSink({ startTls: true });
  });
  afterEach(() => sink.close());

  const transport = (enableTls?: boolean) =>
    createSmtpTransport({ host: '127.0.0.1', port: sink.port, requireTransportSecurity: false, forceTls: false, enableTls });

  it('upgrades with STARTTLS when offered (by default), so a certificate that does not check refuses the message', async () => {
    const smtp = transport();
    try {
      await expect(smtp.send(message)).rejects.toThrow(/certificate/i);
      expect(sink.messages).toEqual([]);
    } finally {
      smtp.close();
    }
  });

  it('with enable_tls: false, sends in plain text even though STARTTLS is offered', async () => {
    const smtp = transport(false);
    try {
      await smtp.send(message);
      const [mail] = await sink.waitFor(1);
      expect(mail.secure).toBe(false);
      expect(mail.subject).toBe('Validate your address');
    } finally {
      smtp.close();
    }
  });
});

/** `force_tls` (port 465): TLS from the first byte, on the socket the transport opens itself (so that a send past its deadline can be cut off). */
describe('SMTP and force_tls', () => {
  it('speaks TLS from the first byte, so a certificate that does not check refuses the message', async () => {
    const { SMTPServer } = await import('smtp-server');
    let received = 0;
    const server = new SMTPServer({
      secure: true,
      authOptional: true,
      logger: false,
      onData(stream, _session, callback) {
        received += 1;
        stream.resume().on('end', () => callback());
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.server.address() as { port: number }).port;
    const smtp = createSmtpTransport({ host: '127.0.0.1', port, requireTransportSecurity: false, forceTls: true });
    try {
      await expect(smtp.send(message)).rejects.toThrow(/certificate/i);
      expect(received).toBe(0);
    } finally {
      smtp.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
