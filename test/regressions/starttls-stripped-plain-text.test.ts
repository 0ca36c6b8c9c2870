/**
 * With require_transport_security off (the default, as in Synapse), a server
 * that offers no STARTTLS, or a man in the middle who strips it from the
 * server's answer, gets the mail in plain text, token included. The README
 * did not say so; this holds what it now says, next to the refusal with the
 * setting on.
 */
import { createSmtpTransport } from '../../src/delivery/mail-transport';
import { startSmtpSink } from '../support/smtp';

const message = { from: 'Example <noreply@example.org>', to: 'someone@example.org', subject: 'Validate', text: 'token 123456\n', html: '<p>token 123456</p>' };

it.each([
  [false, 'sends it in plain text'],
  [true, 'sends nothing'],
])('no STARTTLS offered, require_transport_security %s: %s', async (requireTransportSecurity) => {
  const sink = await startSmtpSink();
  const transport = createSmtpTransport({ host: '127.0.0.1', port: sink.port, requireTransportSecurity, forceTls: false, enableTls: true });
  try {
    if (requireTransportSecurity) {
      await expect(transport.send(message)).rejects.toThrow(/did not upgrade the connection to TLS/);
      expect(sink.messages).toEqual([]);
    } else {
      await transport.send(message);
      const [received] = await sink.waitFor(1);
      expect(received.secure).toBe(false);
      expect(received.text).toContain('token 123456');
    }
  } finally {
    transport.close();
    await sink.close();
  }
});
