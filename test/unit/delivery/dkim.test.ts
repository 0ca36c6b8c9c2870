import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../../src/config';
import type { MailMessage } from '../../../src/delivery/mail-message';
import { createFileTransport, createSmtpTransport } from '../../../src/delivery/mail-transport';
import { ThreadedMailTransport } from '../../../src/delivery/smtp-thread';
import { dkimKey, dkimVerdicts, type DkimKey } from '../../support/dkim';
import { CapturingLogger, removeDir, tempDir } from '../../support/harness';
import { startSmtpSink, type SmtpSink } from '../../support/smtp';

const DOMAIN = 'mail.example.org';
const message: MailMessage = {
  messageId: '<dkim-test@example.org>',
  from: 'Example <noreply@example.org>',
  to: 'someone@example.org',
  subject: 'Validate your address',
  text: 'Open the link: https://example.org/validate?sid=1&token=2\n',
  html: '<p>Open the link</p>',
  language: 'en',
};

/** The module's own settings for a key, read by its config parser as an operator would write them. */
function settings(port: number, selector: string, key: DkimKey) {
  const { email } = parseConfig({ email: { smtp_host: '127.0.0.1', smtp_port: port, enable_tls: false, dkim: { domain: DOMAIN, selector, private_key: key.pem } } });
  return { smtp: { ...email.smtp!, dkim: email.dkim }, dkim: email.dkim! };
}

const KEYS = [
  ['rsa', 'rsa-sha256'],
  ['ed25519', 'ed25519-sha256'],
] as const;

describe.each(KEYS)('DKIM with an %s key', (type, algorithm) => {
  const key = dkimKey(type);
  const selector = `s-${type}`;
  const records = { [`${selector}._domainkey.${DOMAIN}`]: key.record };
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(() => sink.close());

  it(`is read off the key: ${algorithm}`, () => {
    expect(settings(1, selector, key).dkim.algorithm).toBe(algorithm);
  });

  it.each([
    ['the module’s own composer', message],
    ['nodemailer’s composer (an address that is not ASCII)', { ...message, to: 'jürgen@example.org' }],
  ])('signs mail sent over SMTP, built by %s; a verifier passes it, and fails it once a header is changed', async (_how, mail) => {
    const transport = createSmtpTransport(settings(sink.port, selector, key).smtp);
    try {
      const before = sink.messages.length;
      await transport.send(mail);
      const [received] = (await sink.waitFor(before + 1)).slice(before);
      expect(await dkimVerdicts(received.raw, records)).toEqual([{ result: 'pass', algorithm, domain: DOMAIN, selector }]);
      const tampered = received.raw.replace(/^Subject: .*$/m, 'Subject: Something else');
      expect(tampered).not.toBe(received.raw);
      expect((await dkimVerdicts(tampered, records))[0].result).toBe('fail');
    } finally {
      transport.close();
    }
  });

  it('signs on the SMTP thread too (the key crosses to it with the settings)', async () => {
    const transport = ThreadedMailTransport.create(settings(sink.port, selector, key).smtp, new CapturingLogger());
    expect(transport).toBeDefined();
    try {
      const before = sink.messages.length;
      await transport!.send(message);
      const [received] = (await sink.waitFor(before + 1)).slice(before);
      expect(await dkimVerdicts(received.raw, records)).toEqual([{ result: 'pass', algorithm, domain: DOMAIN, selector }]);
    } finally {
      transport!.close();
    }
  });

  it('signs the development files, so the operator can read the header', async () => {
    const dir = tempDir();
    const transport = createFileTransport(dir, new CapturingLogger(), settings(1, selector, key).dkim);
    try {
      await transport.send(message);
      const [eml] = readdirSync(dir).filter((file) => file.endsWith('.eml'));
      const written = readFileSync(path.join(dir, eml), 'utf8');
      const [header] = written.split(/\r\n(?! )/);
      expect(header).toMatch(new RegExp(`^DKIM-Signature: v=1; a=${algorithm}; c=relaxed/relaxed;\\s+d=${DOMAIN};\\s+q=dns/txt;\\s+s=${selector};`));
      // Written as it was signed (CRLF line ends), so the file verifies as it is.
      expect(await dkimVerdicts(written, records)).toEqual([{ result: 'pass', algorithm, domain: DOMAIN, selector }]);
    } finally {
      transport.close();
      removeDir(dir);
    }
  });
});

it('without email.dkim, mail carries no signature', async () => {
  const sink = await startSmtpSink();
  const transport = createSmtpTransport({ host: '127.0.0.1', port: sink.port, requireTransportSecurity: false, forceTls: false, enableTls: false });
  try {
    await transport.send(message);
    const [received] = await sink.waitFor(1);
    expect(received.raw).not.toMatch(/^DKIM-Signature:/im);
  } finally {
    transport.close();
    await sink.close();
  }
});
