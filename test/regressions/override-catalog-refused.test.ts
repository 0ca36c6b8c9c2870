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
