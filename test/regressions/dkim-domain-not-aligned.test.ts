/**
 * A DKIM domain unrelated to the From domain (email.notif_from) was taken
 * without a word: mail then passes DKIM and still fails DMARC, since the
 * signature does not count for the sender's domain. Start and `--check`
 * now warn of it; a parent or child domain of the From domain aligns.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { CapturingLogger, removeDir, startModule, tempDir } from '../support/harness';

const CLI = path.resolve(__dirname, '../../dist/cli.js');
const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const email = (domain: string) => ({ notif_from: 'Example <noreply@example.org>', dkim: { domain, selector: 's', private_key: pem } });

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

function check(emailKeys: object): Promise<string> {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, toYaml({ database: { path: path.join(dir, 'threepid.sqlite') }, email: emailKeys }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  return new Promise((resolve) => execFile(process.execPath, [CLI, '--check', '--config', file], { cwd: dir, env }, (_err, stdout) => resolve(stdout)));
}

const WARNING = /email\.dkim\.domain \(other-domain\.net\) is not the domain of email\.notif_from \(example\.org\)/;

it('--check warns when the DKIM domain does not align with the From domain', async () => {
  expect(await check(email('other-domain.net'))).toMatch(new RegExp(`^email: warning: ${WARNING.source}`, 'm'));
});

it.each(['example.org', 'mail.example.org', 'Example.ORG.'])('--check says nothing of alignment for d=%s', async (domain) => {
  expect(await check(email(domain))).not.toMatch(/email\.dkim\.domain/);
});

it('the start log warns of it', async () => {
  const logger = new CapturingLogger();
  const hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') }, email: email('other-domain.net') }, { logger });
  await hs.close();
  expect(logger.lines.filter((line) => line.level === 'warn').map((line) => line.message)).toContainEqual(expect.stringMatching(WARNING));
});
