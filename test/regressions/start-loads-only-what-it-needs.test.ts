// Start-up cost: loading code was most of the sidecar's start (issue 28's
// "process start to first answered request"). A module that validates
// email only must not load the phone-number metadata, nodemailer or the
// PostgreSQL driver to start; each is loaded by the first use that needs it.
// Jest's own module registry would hide this, so the host is a child process.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeDir, tempDir } from '../support/harness';

const DIST = path.resolve(__dirname, '../..', 'dist');
const LAZY = ['libphonenumber-js', 'nodemailer', 'pg'];

it('starts without libphonenumber-js, nodemailer or pg, and loads the phone metadata with the first number', () => {
  const dir = tempDir('threepid-start-loads-');
  try {
    const host = path.join(dir, 'host.js');
    writeFileSync(
      host,
      `const { createThreepidModule, parseConfig } = require(${JSON.stringify(path.join(DIST, 'index.js'))});
const loaded = (name) => Object.keys(require.cache).some((file) => file.includes(\`/node_modules/\${name}/\`));
const names = ${JSON.stringify(LAZY)};
(async () => {
  const config = parseConfig({
    public_baseurl: 'https://matrix.example.org',
    database: { path: ${JSON.stringify(path.join(dir, 'threepid.sqlite'))} },
    email: { dev_mail_dir: ${JSON.stringify(path.join(dir, 'mail'))} },
    sms: { dev_sms_dir: ${JSON.stringify(path.join(dir, 'sms'))} },
  });
  const module = await createThreepidModule({ config });
  try {
    const atStart = names.filter(loaded);
    const { parsePhoneNumber } = require(${JSON.stringify(path.join(DIST, 'threepid', 'msisdn.js'))});
    const parsed = parsePhoneNumber('GB', '07911 123456');
    process.stdout.write(JSON.stringify({ atStart, phone: loaded('libphonenumber-js'), msisdn: parsed.msisdn }));
  } finally {
    await module.close();
  }
})().catch((err) => {
  process.stderr.write(String((err && err.stack) || err));
  process.exitCode = 3;
});
`,
    );
    const output = execFileSync(process.execPath, [host], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(output)).toEqual({ atStart: [], phone: true, msisdn: '447911123456' });
  } finally {
    removeDir(dir);
  }
});
