/**
 * An operator's catalog (`<templates_dir>/messages/<tag>.json`) with a
 * string the module cannot use stops `--check` and the start, naming the
 * file and the key; the same catalog put right passes both.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeDir, startModule, tempDir } from '../support/harness';

const CLI = path.resolve(__dirname, '../../dist/cli.js');

let dir: string;
let templates: string;
beforeEach(() => {
  dir = tempDir();
  templates = path.join(dir, 'templates');
  mkdirSync(path.join(templates, 'messages'), { recursive: true });
});
afterEach(() => removeDir(dir));

const writeCatalog = (messages: Record<string, string>) =>
  writeFileSync(path.join(templates, 'messages', 'de.json'), JSON.stringify(messages));

function check(): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, `server_name: example.org\ndatabase:\n  path: ${path.join(dir, 'threepid.sqlite')}\ntemplates_dir: ${templates}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI, '--check', '--config', file], { cwd: dir, env }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    ),
  );
}

const start = () => startModule({ database: { path: path.join(dir, 'threepid.sqlite') }, server_name: 'example.org', templates_dir: templates });

it.each([
  ['a placeholder the shipped string lacks', { 'sms.code': '{code} für {user}' }, /de\.json: sms\.code: uses user, which the shipped string does not have/],
  ['a key the module does not have', { 'sms.cod': '{code}' }, /de\.json: unknown key sms\.cod/],
  ['an sms.code without the code', { 'sms.code': 'Ihr Code für {app_name} ist da.' }, /de\.json: sms\.code: must use exactly the shipped string's placeholders and tags, app_name, code; it has app_name$/m],
  ['an sms.code_short without the code', { 'sms.code_short': 'Ihr Code' }, /de\.json: sms\.code_short: must use exactly .* code; it has none/],
  ['the code formatted as a number (123,456)', { 'sms.code': '{code, number} ist Ihr Code für {app_name}.' }, /de\.json: sms\.code: must use exactly .*it has app_name, code:number$/m],
  ['the code formatted as a date', { 'sms.code': '{code, date} ist Ihr Code für {app_name}.' }, /de\.json: sms\.code: must use exactly .*it has app_name, code:date$/m],
  ['a page string without its server name', { 'page.registration.confirm.intro': 'Bestätigen Sie Ihre Adresse.' }, /de\.json: page\.registration\.confirm\.intro: must use exactly/],
  [
    'an sms.code_short too long for one segment even alone',
    { 'sms.code_short': 'Ihr Bestätigungscode lautet {code}. Geben Sie ihn niemandem weiter, auch nicht unseren Mitarbeitern, die Sie niemals danach fragen werden. Wenn Sie ihn nicht angefordert haben, ignorieren Sie diese Nachricht.' },
    /de\.json: sms\.code_short: the de text message takes 2\d\d of the 160 characters of one segment even in its short form/,
  ],
  [
    'an sms.code_short outside GSM-7 longer than 70',
    { 'sms.code_short': 'Ihr Code: {code}. Geben Sie ihn niemandem weiter – auch nicht unseren Mitarbeitern ✓' },
    /de\.json: sms\.code_short: the de text message takes \d+ of the 70 characters/,
  ],
])('%s: --check fails and the start is refused, naming the key', async (_what, messages, expected) => {
  writeCatalog(messages);
  const { code, stdout, stderr } = await check();
  expect(code).not.toBe(0);
  expect(stdout + stderr).toMatch(expected);
  await expect(start()).rejects.toThrow(expected);
});

it('the same catalog put right passes --check and starts', async () => {
  writeCatalog({ 'sms.code': '{code} ist Ihr Code für {app_name}.' });
  const { code, stderr } = await check();
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const hs = await start();
  await hs.close();
});
