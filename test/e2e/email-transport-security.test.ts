import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { eventually } from '../support/e2e-utils';
import { CapturingLogger, post, removeDir, startModule, tempDir } from '../support/harness';
import { startSmtpSink } from '../support/smtp';

const CLI = path.resolve(__dirname, '../../dist/cli.js');
const REGISTER = '/_matrix/client/v3/register/email/requestToken';

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

describe('require_transport_security against a server that offers no STARTTLS', () => {
  it('sends nothing, keeps the message for a later attempt, and logs why', async () => {
    const sink = await startSmtpSink();
    const logger = new CapturingLogger();
    const hs = await startModule(
      { database: { path: path.join(dir, 'threepid.sqlite') }, email: { smtp_host: '127.0.0.1', smtp_port: sink.port, require_transport_security: true } },
      { logger },
    );
    try {
      const asked = await post(`${hs.url}${REGISTER}`, { client_secret: 'secret-tls-1', email: 'alice@example.org', send_attempt: 1 });
      expect(asked.status).toBe(200);
      const retry = await eventually(() => logger.lines.find((line) => line.message === 'delivery failed; will retry'), 'a retry');
      expect(retry!.fields).toMatchObject({ channel: 'email', attempt: 1, reason: expect.stringMatching(/^SMTP server did not upgrade the connection to TLS/) });
      expect(sink.messages).toEqual([]);
    } finally {
      await hs.close();
      await sink.close();
    }
  });
});

describe('tls_insecure', () => {
  it('is logged as a warning at start', async () => {
    const logger = new CapturingLogger();
    const hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') }, email: { smtp_host: '127.0.0.1', tls_insecure: true } }, { logger });
    await hs.close();
    expect(logger.lines.filter((line) => line.level === 'warn').map((line) => line.message)).toContainEqual(
      expect.stringMatching(/^email\.tls_insecure is on: the SMTP server's certificate is not checked/),
    );
  });
});

/** `--check` on a config file with these `email` keys: its exit code and output. */
function check(email: object): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, toYaml({ database: { path: path.join(dir, 'threepid.sqlite') }, email }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, '--check', '--config', file], { cwd: dir, env }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

describe('--check', () => {
  const key = (type: 'rsa' | 'ed25519') =>
    (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).privateKey
      .export({ type: 'pkcs8', format: 'pem' })
      .toString();

  it.each([
    ['rsa', 'rsa-sha256'],
    ['ed25519', 'ed25519-sha256'],
  ] as const)('names the DKIM algorithm of an %s key and where its record goes, never the key', async (type, algorithm) => {
    const pem = key(type);
    const result = await check({ dkim: { domain: 'example.org', selector: 'mail2026', private_key: pem } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`email: DKIM: ${algorithm} key for mail2026._domainkey.example.org\n`);
    expect(result.stdout + result.stderr).not.toContain(pem.split('\n')[1]);
  });

  it("reports a key DKIM cannot use, naming email.dkim.private_key, and exits 1", async () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const result = await check({ dkim: { domain: 'example.org', selector: 'mail', private_key: pem } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('email.dkim.private_key: is a key of type ec');
    expect(result.stdout + result.stderr).not.toContain(pem.split('\n')[1]);
  });

  it('prints the tls_insecure warning', async () => {
    const result = await check({ smtp_host: 'mail.example.org', tls_insecure: true });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^email: warning: email\.tls_insecure is on: the SMTP server's certificate is not checked/m);
  });
});
