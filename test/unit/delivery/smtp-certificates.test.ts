import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { parseConfig, type RawConfig } from '../../../src/config';
import type { MailMessage } from '../../../src/delivery/mail-message';
import { certificateCheck, createSmtpTransport } from '../../../src/delivery/mail-transport';
import { removeDir, tempDir } from '../../support/harness';
import { startSmtpSink, type SmtpSink } from '../../support/smtp';
import { createTestCa, type IssuedCertificate, type TestCa } from '../../support/tls-certificates';

const message: MailMessage = {
  messageId: '<tls-check@example.org>',
  from: 'Example <noreply@example.org>',
  to: 'someone@example.org',
  subject: 'Validate your address',
  text: 'Open the link',
  html: '<p>Open the link</p>',
};

let dir: string;
let ca: TestCa;
let forLocalhost: IssuedCertificate;
let forAnotherName: IssuedCertificate;
beforeAll(() => {
  dir = tempDir();
  ca = createTestCa(dir);
  forLocalhost = ca.issue('localhost');
  forAnotherName = ca.issue('mail.elsewhere.example');
});
afterAll(() => removeDir(dir));

/** Sends one message with the `email` keys given, as the config parser reads them; answers the error, if any. */
async function sendWith(sink: SmtpSink, email: NonNullable<RawConfig['email']>): Promise<Error | undefined> {
  const smtp = parseConfig({ email: { smtp_host: '127.0.0.1', smtp_port: sink.port, ...email } }).email.smtp!;
  const transport = createSmtpTransport(smtp);
  try {
    await transport.send(message);
    return undefined;
  } catch (err) {
    return err as Error;
  } finally {
    transport.close();
  }
}

describe('STARTTLS: the server certificate is checked', () => {
  const sinks: SmtpSink[] = [];
  const sinkWith = async (certificate: IssuedCertificate) => {
    const sink = await startSmtpSink({ tls: certificate });
    sinks.push(sink);
    return sink;
  };
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
  });

  it('refuses, by default, a certificate from a CA it does not know: nothing is sent', async () => {
    const sink = await sinkWith(forLocalhost);
    expect((await sendWith(sink, { tlsname: 'localhost' }))?.message).toMatch(/^TLS with the SMTP server failed: .*certificate/i);
    expect(sink.messages).toEqual([]);
  });

  it('accepts it with tls_ca_file naming its CA and tlsname naming the certificate (connecting to 127.0.0.1)', async () => {
    const sink = await sinkWith(forLocalhost);
    expect(await sendWith(sink, { tls_ca_file: ca.caFile, tlsname: 'localhost' })).toBeUndefined();
    const [mail] = await sink.waitFor(1);
    expect(mail.secure).toBe(true);
  });

  it('checks it against smtp_host when tlsname is not set: a certificate for localhost does not do for 127.0.0.1', async () => {
    const sink = await sinkWith(forLocalhost);
    expect((await sendWith(sink, { tls_ca_file: ca.caFile }))?.message).toMatch(/127\.0\.0\.1|altnames|certificate/i);
    expect(sink.messages).toEqual([]);
  });

  it('refuses a certificate for another name, even from the CA it trusts', async () => {
    const sink = await sinkWith(forAnotherName);
    expect((await sendWith(sink, { tls_ca_file: ca.caFile, tlsname: 'localhost' }))?.message).toMatch(/localhost|altnames/i);
    expect(sink.messages).toEqual([]);
  });

  it('with tls_insecure, sends over TLS whatever the certificate', async () => {
    const sink = await sinkWith(forAnotherName);
    expect(await sendWith(sink, { tls_insecure: true })).toBeUndefined();
    const [mail] = await sink.waitFor(1);
    expect(mail.secure).toBe(true);
  });
});

describe('force_tls: TLS from the first byte, the certificate checked the same way', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink({ tls: forLocalhost, implicitTls: true });
  });
  afterAll(() => sink.close());

  it('refuses a certificate from an unknown CA', async () => {
    expect((await sendWith(sink, { force_tls: true, tlsname: 'localhost' }))?.message).toMatch(/certificate/i);
    expect(sink.messages).toEqual([]);
  });

  it('sends with the CA trusted', async () => {
    expect(await sendWith(sink, { force_tls: true, tls_ca_file: ca.caFile, tlsname: 'localhost' })).toBeUndefined();
    const [mail] = await sink.waitFor(1);
    expect(mail.secure).toBe(true);
  });
});

describe('require_transport_security', () => {
  it('refuses to send over a connection the server would not upgrade (no STARTTLS offered)', async () => {
    const sink = await startSmtpSink();
    try {
      expect((await sendWith(sink, { require_transport_security: true }))?.message).toMatch(
        /^SMTP server did not upgrade the connection to TLS \(it answered STARTTLS with 5\d\d\); require_transport_security refuses to send in plain text$/,
      );
      expect(sink.messages).toEqual([]);
      // The same server, without the requirement, takes the message in plain text.
      expect(await sendWith(sink, {})).toBeUndefined();
      expect((await sink.waitFor(1))[0].secure).toBe(false);
    } finally {
      await sink.close();
    }
  });
});

describe('email.tls_ca_file in the config', () => {
  it("is trusted besides Node's own CAs, which a `ca` option alone would replace", () => {
    const smtp = parseConfig({ email: { smtp_host: 'mail.example.org', tls_ca_file: ca.caFile } }).email.smtp!;
    const trusted = certificateCheck(smtp).ca as string[];
    expect(trusted).toEqual(expect.arrayContaining([...rootCertificates]));
    // The file's CA last, after Node's defaults (its bundle and NODE_EXTRA_CA_CERTS,
    // test/regressions/tls-ca-file-keeps-extra-cas.test.ts), however the engine lists those.
    expect(trusted.at(-1)).toBe(readFileSync(ca.caFile, 'utf8').trim());
    expect(trusted.length).toBeGreaterThan(rootCertificates.length);
    // Without it, Node's CAs alone, as by default.
    expect(certificateCheck(parseConfig({ email: { smtp_host: 'mail.example.org' } }).email.smtp!).ca).toBeUndefined();
  });


  it('must name a readable file of PEM certificates', () => {
    const missing = path.join(dir, 'missing.pem');
    const empty = path.join(dir, 'empty.pem');
    writeFileSync(empty, 'not a certificate\n');
    for (const file of [missing, empty]) {
      expect(() => parseConfig({ email: { smtp_host: 'mail.example.org', tls_ca_file: file } })).toThrow(/email\.tls_ca_file/);
    }
  });
});
