/**
 * `npm start` ran `node dist/cli.js` under a shell that did not pass
 * signals on: SIGTERM to npm ended npm and the shell and left the sidecar
 * running, orphaned, with its listeners open. The start script execs node,
 * so npm's signal reaches the sidecar itself.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { eventually, freePort } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { watchProcess } from '../support/sidecar-process';

const ROOT = path.resolve(__dirname, '../..');

/** The processes whose parent is `pid` (Linux). */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('SIGTERM to `npm start` ends the sidecar too', async () => {
  const dir = tempDir();
  const [client, internal] = [await freePort(), await freePort()];
  const configFile = path.join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    toYaml({
      public_baseurl: `http://127.0.0.1:${client}`,
      database: { path: path.join(dir, 'threepid.sqlite') },
      email: { dev_mail_dir: path.join(dir, 'mail') },
      listeners: { client: { host: '127.0.0.1', port: client }, internal: { host: '127.0.0.1', port: internal } },
    }),
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_') && !key.startsWith('npm_')));
  const npm = spawn('npm', ['start', '--', '--config', configFile], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { output, exited: npmExited } = watchProcess(npm);
  let sidecars: number[] = [];
  try {
    await eventually(async () => {
      if (npm.exitCode !== null) throw new Error(`npm start exited:\n${output()}`);
      return fetch(`http://127.0.0.1:${internal}/health`).then((res) => res.ok, () => false);
    }, 'the sidecar started by npm to answer /health', 30_000);
    // Whatever npm runs the script under, the processes below it.
    const below = (pid: number): number[] => childrenOf(pid).flatMap((child) => [child, ...below(child)]);
    sidecars = below(npm.pid!);
    expect(sidecars.length).toBeGreaterThan(0);

    npm.kill('SIGTERM');
    await npmExited;
    await eventually(() => sidecars.every((pid) => !alive(pid)), 'every process npm started to exit', 20_000);
    await expect(fetch(`http://127.0.0.1:${internal}/health`)).rejects.toThrow();
  } finally {
    for (const pid of sidecars.filter(alive)) process.kill(pid, 'SIGKILL');
    if (npm.exitCode === null) npm.kill('SIGKILL');
    removeDir(dir);
  }
}, 60_000);
