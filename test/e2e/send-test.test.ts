import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { removeDir, tempDir } from '../support/harness';
import { dkimKey, dkimVerdicts } from '../support/dkim';
import { snsSmsConfig, startSmsGateway, TWILIO_AUTH_TOKEN, twilioSmsConfig, vonageSmsConfig } from '../support/sms-gateway';
import { SNS_SECRET_ACCESS_KEY, VONAGE_API_SECRET } from '../support/sms-provider-stand-ins';
import { startSmtpSink } from '../support/smtp';
import { startScriptedSmtp } from '../support/scripted-smtp';
import { startStallingSmtp } from '../support/stalling-smtp';
import { startAuthEchoSmtp } from '../support/auth-echo-smtp';
import { createTestCa } from '../support/tls-certificates';

// `matrix-hs-threepid --send-test`, the real process: one message through
// the configured transport, its conversation printed, no database touched.

const CLI = path.resolve(__dirname, '../../dist/cli.js');
const SMTP_USER = 'threepid-mailer';
const SMTP_PASS = 'smtp-password-never-shown-7Q2';
const SHARED_SECRET = 'shared-secret-never-shown-9XK-0123456789';
const ADDRESS = 'alice@example.org';
const NUMBER = '+33612345678';

let dir: string;
beforeEach(() => {
  dir = tempDir('threepid-send-test-');
});
afterEach(() => removeDir(dir));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A send test that has not ended by then is killed: its test fails (code -1) rather than leave the process behind. */
const KILLED_AFTER_MS = 15_000;

/** `node dist/cli.js ARGS --config FILE` with `config` written to FILE; nothing of the shell's MATRIX_HS_THREEPID_* leaks in. */
function sendTest(args: string[], config: object = {}, killedAfterMs = KILLED_AFTER_MS): Promise<Run> {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, toYaml({ public_baseurl: 'https://matrix.example.org/', homeserver: { shared_secret: SHARED_SECRET }, ...config }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args, '--config', file], { cwd: dir, env, timeout: killedAfterMs }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number | null }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/**
 * The base64 characters made of `secret`'s bits alone, wherever it is in
 * the bytes encoded: one string for each place (modulo 3) it can start at.
 */
function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret);
  return [0, 1, 2].map((before) =>
    Buffer.concat([Buffer.alloc(before), bytes])
      .toString('base64')
      .slice(Math.ceil((8 * before) / 6), Math.floor((8 * (before + bytes.length)) / 6)),
  );
}

/**
 * No secret in either stream: in the clear, percent-encoded, or inside any
 * base64 (an AUTH exchange's `\0user\0pass` or password, a Basic header's
 * `sid:token`).
 */
function expectNoSecret(run: Run, secrets: string[]): void {
  for (const secret of secrets) {
    for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64'), ...base64Cores(secret)]) {
      expect(run.stdout).not.toContain(form);
      expect(run.stderr).not.toContain(form);
    }
  }
}

const smtpConfig = (port: number, extra: object = {}) => ({
  email: { smtp_host: '127.0.0.1', smtp_port: port, smtp_user: SMTP_USER, smtp_pass: SMTP_PASS, notif_from: 'Example <noreply@example.org>', ...extra },
});

describe('--send-test email', () => {
  it('sends one message through the SMTP server, prints each step and its reply, and exits 0', async () => {
    const sink = await startSmtpSink({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
    try {
      const run = await sendTest(['--send-test', 'email', ' Alice@Example.ORG '], smtpConfig(sink.port));
      expect(run).toMatchObject({ code: 0, stderr: '' });
      for (const step of [/^C: EHLO /m, /^C: AUTH PLAIN <hidden>$/m, /^S: 235 /m, /^C: MAIL FROM:<noreply@example\.org>/m, /^C: RCPT TO:<alice@example\.org>/m, /^C: DATA$/m, /^S: 354 /m]) {
        expect(run.stdout).toMatch(step);
      }
      expect(run.stdout).toMatch(/^result: the server accepted the message: 250 OK: message queued as \S+$/m);
      expect(run.stdout).toMatch(/^TLS: no: the connection was plain text$/m);
      expect(run.stdout).toMatch(/^DKIM: not signed/m);
      expect(run.stdout).toMatch(/^time: \d+ ms$/m);
      const [mail] = await sink.waitFor(1);
      // The address canonicalised as the module does; the real template, marked as a test, its link to public_baseurl.
      expect(mail.to).toEqual([ADDRESS]);
      expect(mail.subject).toMatch(/^\[Test\] .*Confirm your email address/);
      expect(mail.text).toMatch(/^This is a test message sent with matrix-hs-threepid --send-test/);
      expect(mail.text).toContain('https://matrix.example.org/_threepid/client/v1/email/validate?token=send-test-not-a-real-token');
      expect(sink.messages).toHaveLength(1);
      expectNoSecret(run, [SMTP_PASS, `\0${SMTP_USER}\0${SMTP_PASS}`, SHARED_SECRET]);
      // No database opened, nothing stored.
      expect(existsSync(path.join(dir, 'data'))).toBe(false);
    } finally {
      await sink.close();
    }
  });

  it('exits 1 with the server\'s reply when it refuses the recipient', async () => {
    const sink = await startSmtpSink({ reject: 550 });
    try {
      const run = await sendTest(['--send-test', 'email', ADDRESS], { email: { smtp_host: '127.0.0.1', smtp_port: sink.port } });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^S: 550 mailbox unavailable$/m);
      expect(run.stderr).toMatch(/^result: not sent: SMTP server refused the message \(550\) \(at RCPT TO\): 550 mailbox unavailable$/m);
      expect(sink.messages).toEqual([]);
    } finally {
      await sink.close();
    }
  });

  it.each([
    ['answers the message a byte at a time', 'trickle', 'the message body'],
    ['never answers the message', 'stall', 'the message body'],
    ['never answers DATA', 'stall-at-data', 'DATA'],
  ] as const)('ends at outbox.send_timeout, exit 1, when the server %s, naming the deadline and the stage', async (_how, mode, stage) => {
    const smtp = await startStallingSmtp(mode, 200);
    try {
      const run = await sendTest(['--send-test', 'email', ADDRESS], {
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
        outbox: { send_timeout: '2s' },
      });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^C: DATA$/m);
      expect(run.stderr.split('\n')).toContain(`result: not sent: send did not end within 2000 ms (outbox.send_timeout) (at ${stage})`);
      expect(run.stdout).toMatch(/^time: \d+ ms$/m);
    } finally {
      await smtp.close();
    }
  });

  it.each(['PLAIN', 'LOGIN'] as const)('hides the password in every form a server refusing AUTH %s echoes it in', async (method) => {
    const smtp = await startAuthEchoSmtp(method);
    try {
      const run = await sendTest(['--send-test', 'email', ADDRESS], smtpConfig(smtp.port));
      expect(run.code).toBe(1);
      // The echo was printed, each of its six lines holding the password hidden.
      expect(run.stdout.match(/^S: 535-5\.7\.8 you sent .*<hidden>/gm)).toHaveLength(6);
      expect(run.stdout).toMatch(/^S: 535 5\.7\.8 authentication failed$/m);
      expect(run.stderr).toMatch(new RegExp(`^result: not sent: Invalid login: [^]*\\(at AUTH ${method}\\)`));
      expectNoSecret(run, [SMTP_PASS, `\0${SMTP_USER}\0${SMTP_PASS}`, ...['a', 'ab', 'abc'].map((authzid) => `${authzid}\0${SMTP_USER}\0${SMTP_PASS}`)]);
    } finally {
      await smtp.close();
    }
  });

  it('exits 1, saying so, when the server offers only a login method the module cannot use (XOAUTH2)', async () => {
    const sink = await startSmtpSink({ auth: { user: SMTP_USER, pass: SMTP_PASS }, authMethods: ['XOAUTH2'] });
    try {
      const run = await sendTest(['--send-test', 'email', ADDRESS], smtpConfig(sink.port));
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^S: 250[- ]AUTH XOAUTH2$/m);
      expect(run.stderr.split('\n')).toContain('result: not sent: the SMTP server offers no login method this module can use (it offers XOAUTH2) (at AUTH XOAUTH2)');
      expect(run.stderr).not.toMatch(/TypeError|\n\s+at /);
      expect(run.stdout).toMatch(/^time: \d+ ms$/m);
      expect(sink.messages).toEqual([]);
      expectNoSecret(run, [SMTP_PASS, `\0${SMTP_USER}\0${SMTP_PASS}`, SHARED_SECRET]);
    } finally {
      await sink.close();
    }
  });

  // nodemailer arms a 10 s greeting timer once connected and never clears it
  // when its socket is cut off; a process held up by it would end on its own
  // at 10 s after connecting. Killed at 9 s, such a process fails the test (code
  // -1), while one that ends at the 2 s deadline has 7 s to start up and
  // print, which even a loaded machine gives it.
  it.each([
    ['never sends its greeting', 'no-greeting', {}, "the server's greeting", 'no: the connection was plain text'],
    ['never completes the TLS handshake (force_tls)', 'no-greeting', { force_tls: true }, 'the TLS handshake', 'no: not established (the TLS handshake did not complete)'],
    ['never completes the TLS handshake after STARTTLS', 'stall-after-starttls', {}, 'the TLS handshake after STARTTLS', 'no: not established (the TLS handshake did not complete)'],
  ] as const)('when the server %s, names that stage at outbox.send_timeout and exits by itself', async (_how, mode, email, stage, tls) => {
    const smtp = await startStallingSmtp(mode);
    try {
      const run = await sendTest(['--send-test', 'email', ADDRESS], { email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, ...email }, outbox: { send_timeout: '2s' } }, 9_000);
      expect(run.stderr.split('\n')).toContain(`result: not sent: send did not end within 2000 ms (outbox.send_timeout) (at ${stage})`);
      expect(run.stdout.split('\n')).toContain(`TLS: ${tls}`);
      expect(run.code).toBe(1);
    } finally {
      await smtp.close();
    }
  });

  it('names the command a dropped connection cut short, not the connection', async () => {
    const smtp = await startScriptedSmtp(['close-after-ehlo']);
    try {
      const run = await sendTest(['--send-test', 'email', ADDRESS], { email: { smtp_host: '127.0.0.1', smtp_port: smtp.port } });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^result: not sent: .* \(at EHLO\)$/m);
    } finally {
      await smtp.close();
    }
  });

  it('shows the STARTTLS upgrade and the certificate checked against tls_ca_file', async () => {
    const ca = createTestCa(dir);
    const sink = await startSmtpSink({ tls: ca.issue('mail.example.test'), auth: { user: SMTP_USER, pass: SMTP_PASS } });
    try {
      const run = await sendTest(
        ['--send-test', 'email', ADDRESS],
        smtpConfig(sink.port, { require_transport_security: true, tls_ca_file: ca.caFile, tlsname: 'mail.example.test' }),
      );
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^C: STARTTLS$/m);
      expect(run.stdout).toMatch(/^TLS: yes, upgraded with STARTTLS$/m);
      expect(run.stdout).toMatch(/^TLS: certificate subject CN=mail\.example\.test; issuer CN=threepid test CA; valid until /m);
      expect((await sink.waitFor(1))[0].secure).toBe(true);
      expectNoSecret(run, [SMTP_PASS, SHARED_SECRET]);
    } finally {
      await sink.close();
    }
  });

  it('shows TLS from the first byte with force_tls', async () => {
    const ca = createTestCa(dir);
    const sink = await startSmtpSink({ tls: ca.issue('mail.example.test'), implicitTls: true });
    try {
      const run = await sendTest(['--send-test', 'email', ADDRESS], {
        email: { smtp_host: '127.0.0.1', smtp_port: sink.port, force_tls: true, tls_ca_file: ca.caFile, tlsname: 'mail.example.test' },
      });
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^TLS: yes, TLS from the first byte$/m);
      expect(run.stdout).toMatch(/^TLS: certificate subject CN=mail\.example\.test;/m);
      expect(run.stdout).not.toMatch(/^C: STARTTLS/m);
    } finally {
      await sink.close();
    }
  });

  it('says the message went out DKIM-signed, and it did, without printing the key', async () => {
    const key = dkimKey('ed25519');
    const sink = await startSmtpSink();
    try {
      const run = await sendTest(['--send-test', 'email', ADDRESS], {
        email: { smtp_host: '127.0.0.1', smtp_port: sink.port, notif_from: 'noreply@example.org', dkim: { domain: 'example.org', selector: 'mail2026', private_key: key.pem } },
      });
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^DKIM: signed \(a=ed25519-sha256, d=example\.org, s=mail2026\)$/m);
      const [mail] = await sink.waitFor(1);
      expect(await dkimVerdicts(mail.raw, { 'mail2026._domainkey.example.org': key.record })).toEqual([expect.objectContaining({ result: 'pass' })]);
      const keyLines = key.pem.split('\n').filter((line) => line && !line.startsWith('-----'));
      expectNoSecret(run, keyLines);
    } finally {
      await sink.close();
    }
  });

  it('with no SMTP configured, says so and writes the file as the module would', async () => {
    const run = await sendTest(['--send-test', 'email', ADDRESS], { email: { dev_mail_dir: path.join(dir, 'mail') } });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^email: no SMTP configured/m);
    const file = /^file: (\S+\.txt)$/m.exec(run.stdout)?.[1];
    expect(file && path.dirname(file)).toBe(path.join(dir, 'mail'));
    expect(readFileSync(file!, 'utf8')).toContain(`To: ${ADDRESS}`);
  });
});

describe('--send-test sms', () => {
  it('sends one text through Twilio, prints the request line and the 201 answer without the number, code or token, and exits 0', async () => {
    const gateway = await startSmsGateway();
    try {
      const run = await sendTest(['--send-test', 'sms', NUMBER], { sms: twilioSmsConfig(gateway.url) });
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(new RegExp(`^request: POST ${gateway.url}/2010-04-01/Accounts/\\w+/Messages\\.json$`, 'm'));
      expect(run.stdout).toMatch(/^answer: HTTP 201 Created$/m);
      expect(run.stdout).toMatch(/^answer body: .*"to":"<number>"/m);
      expect(run.stdout).toMatch(/^result: the provider accepted the message$/m);
      expect(run.stdout).toMatch(/^time: \d+ ms$/m);
      const [text] = await gateway.waitFor(1);
      expect(text.to).toBe(NUMBER);
      expect(text.text).toMatch(/^Test message \(matrix-hs-threepid --send-test\).*\n000000 is your .* verification code/);
      const body = run.stdout.split('\n').filter((line) => line.startsWith('answer body:')).join('\n');
      expect(body).toContain('#<code>');
      expect(body).not.toMatch(/(?<![0-9A-Za-z])000000(?![0-9A-Za-z])/);
      expect(body).not.toContain('33612345678');
      expectNoSecret(run, [TWILIO_AUTH_TOKEN, SHARED_SECRET]);
      expect(existsSync(path.join(dir, 'data'))).toBe(false);
    } finally {
      await gateway.close();
    }
  });

  it('exits 1 with the provider\'s status and body when it refuses the text', async () => {
    const gateway = await startSmsGateway();
    gateway.failNext(1, 400);
    try {
      const run = await sendTest(['--send-test', 'sms', NUMBER], { sms: twilioSmsConfig(gateway.url) });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^answer: HTTP 400 Bad Request$/m);
      expect(run.stdout).toMatch(/^answer body: \{"code":21211,.*<number>/m);
      expect(/^answer body: .*$/m.exec(run.stdout)![0]).not.toContain('33612345678');
      expect(run.stderr).toMatch(/^result: not sent: .*400/m);
      expectNoSecret(run, [TWILIO_AUTH_TOKEN, SHARED_SECRET]);
    } finally {
      await gateway.close();
    }
  });
});

describe('--send-test sms with a provider that echoes the request', () => {
  it.each([
    ['twilio', (url: string) => twilioSmsConfig(url), TWILIO_AUTH_TOKEN],
    ['vonage', (url: string) => vonageSmsConfig(url, { api_secret: 'vonage/secret+with=marks' }), 'vonage/secret+with=marks'],
  ] as const)('hides the %s credential as it was sent (a Basic header\'s base64, a form\'s percent-encoding)', async (_name, smsConfig, secret) => {
    // Refuses each request with its Authorization header and body in the answer.
    const provider = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
      req.on('end', () => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `refused: ${req.headers.authorization ?? ''} ${body}` }));
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', () => resolve()));
    try {
      const run = await sendTest(['--send-test', 'sms', NUMBER], { sms: smsConfig(`http://127.0.0.1:${(provider.address() as AddressInfo).port}`) });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^answer body: \{"message":"refused: .*<hidden>/m);
      expectNoSecret(run, [secret, SHARED_SECRET]);
    } finally {
      await new Promise<void>((resolve) => provider.close(() => resolve()));
    }
  });
});

describe('--send-test sms through the HTTP gateway', () => {
  it('prints the request line with the query\'s values hidden', async () => {
    const gateway = await startSmsGateway();
    try {
      const run = await sendTest(['--send-test', 'sms', NUMBER], {
        sms: { sender: 'http', http: { url: `${gateway.url}/webhook?key=gateway-key-in-the-query&v=2` } },
      });
      expect(run.stdout).toContain(`request: POST ${gateway.url}/webhook?key=<hidden>&v=<hidden>`);
      expect(run.stdout + run.stderr).not.toContain('gateway-key-in-the-query');
    } finally {
      await gateway.close();
    }
  });
});

describe.each([
  ['sns', snsSmsConfig, SNS_SECRET_ACCESS_KEY],
  ['vonage', vonageSmsConfig, VONAGE_API_SECRET],
])('--send-test sms through %s', (_name, smsConfig, providerSecret) => {
  it('prints the request line and the answer the provider gave, never its secret, and exits 0', async () => {
    const gateway = await startSmsGateway();
    try {
      const run = await sendTest(['--send-test', 'sms', NUMBER], { sms: smsConfig(gateway.url) });
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(new RegExp(`^request: POST ${gateway.url}/\\S*$`, 'm'));
      expect(run.stdout).toMatch(/^answer: HTTP 200 OK$/m);
      expect(run.stdout).toMatch(/^answer body: ./m);
      expect(run.stdout).toMatch(/^result: the provider accepted the message$/m);
      expect((await gateway.waitFor(1))[0].text).toMatch(/^Test message/);
      expectNoSecret(run, [providerSecret, SHARED_SECRET]);
    } finally {
      await gateway.close();
    }
  });
});

describe('--send-test with bad arguments', () => {
  it.each([
    [['--send-test', 'fax', '+33612345678']],
    [['--send-test', 'email']],
    [['--send-test', 'email', 'not an address']],
    [['--send-test', 'sms', '06 12 34 56 78']],
    [['--send-test', 'sms', '+33 1']],
    [['--send-test', 'email', 'a@example.org', 'b@example.org']],
    [['--check', '--send-test', 'email', 'a@example.org']],
  ])('%j exits 2 with the usage, sending nothing', async (args) => {
    const run = await sendTest(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: matrix-hs-threepid');
    expect(run.stderr).toContain('--send-test email ADDRESS');
    expect(run.stdout).toBe('');
  });

  it('--help shows it', async () => {
    const run = await sendTest(['--help']);
    expect(run.stdout).toContain('matrix-hs-threepid --send-test sms NUMBER [--config FILE]');
  });
});
