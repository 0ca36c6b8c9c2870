import { spawn, type ChildProcess } from 'node:child_process';
import { withoutKeyGeneratedWarning } from '../support/process-warnings';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { eventually } from '../support/e2e-utils';
import { post, removeDir, tempDir } from '../support/harness';
import { testEngine } from '../support/postgres';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const ROOT = path.resolve(__dirname, '../..');

/**
 * A host that embeds the module and is bundled with esbuild into one file,
 * as many deployments ship: the module's code is inside the host's bundle,
 * and only the native driver stays in node_modules. The module must still
 * find its migrations, its templates and its threads' own entry files (a
 * thread started from the module's own file would run the host's whole
 * bundle again).
 */
const HOST_SOURCE = `
import { createServer } from 'node:http';
import { isMainThread } from 'node:worker_threads';
import { createApp, createThreepidModule, parseConfig, silentLogger } from 'matrix-hs-threepid';

if (!isMainThread) console.log('HOST BUNDLE LOADED IN A THREAD');

async function main() {
  const module = await createThreepidModule({ config: parseConfig(JSON.parse(process.env.HOST_CONFIG)) });
  const server = createServer(createApp([module.clientRouter], silentLogger));
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
  process.on('SIGTERM', () => server.close(() => module.close().then(() => process.exit(0))));
}

if (isMainThread) main().catch((err) => { console.error(err); process.exit(1); });
`;

(testEngine() === 'sqlite' ? describe : describe.skip)('a host bundled with esbuild', () => {
  let dir: string;
  let smtp: SmtpSink;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = tempDir('threepid-bundle-');
    smtp = await startSmtpSink();
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await smtp.close();
    removeDir(dir);
  });

  it('finds its migrations, templates and thread files, and never runs the host bundle on a thread', async () => {
    // The package as a host installs it, and the native driver beside it.
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(ROOT, path.join(dir, 'node_modules', 'matrix-hs-threepid'), 'dir');
    symlinkSync(path.join(ROOT, 'node_modules', 'better-sqlite3'), path.join(dir, 'node_modules', 'better-sqlite3'), 'dir');
    writeFileSync(path.join(dir, 'host.ts'), HOST_SOURCE);
    const outdir = path.join(dir, 'out');
    await build({
      entryPoints: [path.join(dir, 'host.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: path.join(outdir, 'host.js'),
      external: ['better-sqlite3', 'pg-native'],
      logLevel: 'silent',
    });
    symlinkSync(path.join(dir, 'node_modules'), path.join(outdir, 'node_modules'), 'dir');

    const config = {
      public_baseurl: 'http://127.0.0.1:1',
      database: { path: path.join(dir, 'data', 'threepid.sqlite') },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
    };
    let stdout = '';
    let stderr = '';
    child = spawn(process.execPath, [path.join(outdir, 'host.js')], {
      cwd: dir,
      env: { ...process.env, HOST_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const port = await eventually(() => {
      if (child?.exitCode !== null) throw new Error(`host exited: ${stderr}`);
      const line = /\{"port":(\d+)\}/.exec(stdout);
      return line ? Number(line[1]) : undefined;
    }, 'the bundled host to listen', 15_000);

    const answer = await post(`http://127.0.0.1:${port}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'bundledHostSecret',
      email: 'bundled@example.org',
      send_attempt: 1,
    });
    expect(answer.status).toBe(200);
    const [mail] = await smtp.waitFor(1, 15_000);
    expect(mail.to).toEqual(['bundled@example.org']);
    expect(mail.subject.length).toBeGreaterThan(0);
    expect(stdout).not.toContain('HOST BUNDLE LOADED IN A THREAD');
    expect(withoutKeyGeneratedWarning(stderr)).toBe('');
  }, 60_000);
});
