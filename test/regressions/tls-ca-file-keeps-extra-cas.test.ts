/**
 * `email.tls_ca_file` is trusted besides Node's CAs, but those were taken
 * from `tls.rootCertificates`, which leaves out NODE_EXTRA_CA_CERTS: an
 * SMTP server whose CA came from there was refused as soon as the operator
 * named another CA in tls_ca_file.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { parseConfig } from '../../src/config';
import { createSmtpTransport } from '../../src/delivery/mail-transport';
import { removeDir, tempDir } from '../support/harness';
import { startSmtpSink } from '../support/smtp';
import { createTestCa } from '../support/tls-certificates';

let dir: string;
const before = process.env.NODE_EXTRA_CA_CERTS;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  if (before === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
  else process.env.NODE_EXTRA_CA_CERTS = before;
  removeDir(dir);
});

it("a server whose CA is in NODE_EXTRA_CA_CERTS is still trusted with tls_ca_file naming another CA", async () => {
  mkdirSync(path.join(dir, 'extra'));
  mkdirSync(path.join(dir, 'other'));
  const extra = createTestCa(path.join(dir, 'extra'));
  const other = createTestCa(path.join(dir, 'other'));
  process.env.NODE_EXTRA_CA_CERTS = extra.caFile;
  const sink = await startSmtpSink({ tls: extra.issue('localhost') });
  const smtp = parseConfig({
    email: { smtp_host: '127.0.0.1', smtp_port: sink.port, tlsname: 'localhost', require_transport_security: true, tls_ca_file: other.caFile },
  }).email.smtp!;
  const transport = createSmtpTransport(smtp);
  try {
    await transport.send({ from: 'Example <noreply@example.org>', to: 'someone@example.org', subject: 's', text: 't', html: '<p>t</p>' });
    const [received] = await sink.waitFor(1);
    expect(received.secure).toBe(true);
  } finally {
    transport.close();
    await sink.close();
  }
});
