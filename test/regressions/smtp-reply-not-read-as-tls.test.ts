/**
 * A recipient refused for now by a server that echoes the address, as
 * Postfix does (`450 4.1.1 <certificate.office@example.org>: …`), was read
 * as a TLS failure because its text held "certificate": the outbox then
 * logged that text, address included, instead of `SMTP 450`.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createSmtpTransport } from '../../src/delivery/mail-transport';

it('a 4xx reply naming an address with "certificate" in it stays an SMTP reply, its text not carried', async () => {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onRcptTo(address, _session, callback) {
      callback(Object.assign(new Error(`4.1.1 <${address.address}>: Recipient address rejected: try again later`), { responseCode: 450 }));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const transport = createSmtpTransport({ host: '127.0.0.1', port, requireTransportSecurity: false, forceTls: false, enableTls: true });
  try {
    const message = { from: 'Example <noreply@example.org>', to: 'certificate.office@example.org', subject: 's', text: 't', html: '<p>t</p>' };
    const failure = (await transport.send(message).then(() => undefined, (err: unknown) => err)) as { message: string; responseCode?: number };
    // The outbox logs an error with a responseCode as `SMTP <code>`, and retries it.
    expect(failure.responseCode).toBe(450);
    expect(failure.message).not.toMatch(/^TLS with the SMTP server failed/);
  } finally {
    transport.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
