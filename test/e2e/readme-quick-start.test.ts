/**
 * The README's quick start, as a new user runs it: `npm start` in a fresh
 * folder (the development defaults: SQLite in data/, mail written to
 * data/mail/, ports 8090 and 8091), then the README's own `curl` and `cat`
 * lines (doc-blocks `quick-start` and `quick-start-try`), then the link
 * opened and Confirm pressed. SIGTERM to npm ends it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { blocksChecked, ROOT } from '../support/doc-blocks';
import { decodeHtmlEntities, eventually } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { watchProcess } from '../support/sidecar-process';

const [start] = blocksChecked('quick-start');
const [tryIt] = blocksChecked('quick-start-try');

/** The block's shell commands, continuation lines joined, comments left out. */
function commandsOf(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

it("runs as the README says: npm start, a requestToken with curl, the mail's link, Confirm", async () => {
  expect(start.file).toBe('README.md');
  expect(tryIt.file).toBe('README.md');
  // `npm ci` is what every test run starts from; the block's second half is what this test runs.
  expect(start.text).toBe('npm ci && npm start\n');
  const [curl, cat] = commandsOf(tryIt.text);
  expect(curl).toMatch(/^curl /);
  expect(cat).toMatch(/^cat /);

  // A fresh folder with the package's files, as a clone has them.
  const dir = tempDir('threepid-quick-start-');
  copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  for (const name of ['dist', 'node_modules']) symlinkSync(path.join(ROOT, name), path.join(dir, name));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_') && !key.startsWith('npm_') && key !== 'LOG_LEVEL'));
  // Its own process group, so a failed test leaves no sidecar behind npm.
  const npm = spawn('npm', ['start'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const { output, exited } = watchProcess(npm);
  const shell = (command: string) => execFileSync('bash', ['-c', command], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
  try {
    await eventually(async () => {
      if (npm.exitCode !== null) throw new Error(`npm start exited:\n${output()}`);
      return fetch('http://127.0.0.1:8091/health').then((res) => res.ok, () => false);
    }, 'the sidecar started by npm start to answer /health', 30_000);

    expect(JSON.parse(shell(curl))).toMatchObject({ sid: expect.any(String) });
    await eventually(() => existsSync(path.join(dir, 'data/mail')) && readdirSync(path.join(dir, 'data/mail')).some((name) => name.endsWith('.txt')), 'the email written to data/mail');
    const mail = shell(cat);
    const link = /https?:\/\/\S+\/_threepid\/client\/v1\/email\/validate\?\S+/.exec(mail)?.[0];
    expect(link).toBeDefined();

    const page = await (await fetch(link!)).text();
    expect(page).toContain('<form method="post"');
    const fields = Object.fromEntries([...page.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)].map((m) => [m[1], decodeHtmlEntities(m[2])]));
    const action = decodeHtmlEntities(/<form method="post" action="([^"]*)"/.exec(page)![1]);
    const confirmed = await fetch(new URL(action, link), { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toMatch(/confirmed|verified/i);

    npm.kill('SIGTERM');
    await exited;
    await expect(fetch('http://127.0.0.1:8091/health')).rejects.toThrow();
  } finally {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // The group has ended.
    }
    removeDir(dir);
  }
}, 90_000);
