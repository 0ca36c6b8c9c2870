/**
 * A schema error (a wrong type) stopped parseConfig before the checks
 * across keys: `sms.sender: twilio` with no `twilio:` block, next to a type
 * error elsewhere, was told only once the type was fixed. Every problem now
 * comes out in the same pass, each naming its key.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { ConfigError, parseConfig } from '../../src/config';
import { removeDir, tempDir } from '../support/harness';
import { thrown } from '../support/thrown';

const CLI = path.resolve(__dirname, '../../dist/cli.js');

// One type error (smtp_port) and two problems across keys: smtp_user with no password, twilio chosen and not set up.
const config = (dir: string) => ({
  database: { path: path.join(dir, 'threepid.sqlite') },
  email: { smtp_host: 'mail.example.org', smtp_port: 'twenty-five', smtp_user: 'matrix' },
  sms: { sender: 'twilio' },
});

const EXPECTED = [
  { path: 'email.smtp_port', message: 'Expected number, received string' },
  { path: 'email.smtp_pass', message: 'is required when smtp_user is set (or MATRIX_HS_THREEPID_SMTP_PASS, or its _FILE)' },
  { path: 'sms.twilio', message: 'is required when sms.sender is "twilio"' },
];

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

it('parseConfig reports the type error and both problems across keys, and nothing about the key left out', () => {
  // @ts-expect-error smtp_port is of the wrong type on purpose
  expect(thrown(ConfigError, () => parseConfig(config(dir))).issues).toEqual(EXPECTED);
});

it('--check prints all three and exits 1', async () => {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, toYaml(config(dir)));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, [CLI, '--check', '--config', file], { cwd: dir, env }, (error, _stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stderr }),
    ),
  );
  expect(code).toBe(1);
  expect(stderr).toContain('config: 3 problems:');
  for (const { path: key, message } of EXPECTED) expect(stderr).toContain(`  ${key}: ${message}`);
});

it('a key left out for its type does not raise a problem of its own (a bad twilio block is one problem, not two)', () => {
  // @ts-expect-error twilio is of the wrong type on purpose
  const err = thrown(ConfigError, () => parseConfig({ sms: { sender: 'twilio', twilio: 'not a mapping' } }));
  expect(err.issues.map((issue) => issue.path)).toEqual(['sms.twilio']);
});
