/**
 * A relay added a second Subject, From or Content-Type above the signed one,
 * or a Reply-To the message did not have, and the DKIM signature still
 * verified: each signed header was named once in h=, so a verifier checked
 * only the bottom instance. Each is now named once more than it occurs.
 */
import { parseConfig } from '../../src/config';
import type { MailMessage } from '../../src/delivery/mail-message';
import { createSmtpTransport } from '../../src/delivery/mail-transport';
import { dkimKey, dkimVerdicts } from '../support/dkim';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const DOMAIN = 'example.org';
const message: MailMessage = {
  messageId: '<added-header@example.org>',
  from: 'Example <noreply@example.org>',
  to: 'someone@example.org',
  subject: 'Validate your address',
  text: 'Open the link: https://example.org/validate?sid=1&token=2\n',
  html: '<p>Open the link</p>',
  language: 'en',
};

const ADDED = [
  'Subject: Your account is suspended',
  'From: Security <security@example.org>',
  'Content-Type: text/html',
  'Reply-To: attacker@example.net',
];

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.close());

describe.each(['rsa', 'ed25519'] as const)('with an %s key', (type) => {
  const key = dkimKey(type);
  const records = { [`s._domainkey.${DOMAIN}`]: key.record };

  it.each(ADDED)('a header added above the signed ones ("%s") fails the signature', async (added) => {
    const { email } = parseConfig({ email: { smtp_host: '127.0.0.1', smtp_port: sink.port, enable_tls: false, dkim: { domain: DOMAIN, selector: 's', private_key: key.pem } } });
    const transport = createSmtpTransport({ ...email.smtp!, dkim: email.dkim });
    try {
      const before = sink.messages.length;
      await transport.send(message);
      const [received] = (await sink.waitFor(before + 1)).slice(before);
      expect((await dkimVerdicts(received.raw, records))[0].result).toBe('pass');
      // Just below the DKIM-Signature header, where a mail client shows the first of two.
      const tampered = received.raw.replace(/\r?\n(?=[A-Z][\w-]*:)/, (newline) => `${newline}${added}${newline}`);
      expect(tampered).toContain(added);
      expect((await dkimVerdicts(tampered, records))[0].result).toBe('fail');
    } finally {
      transport.close();
    }
  });
});
