// Regression: the WAL checkpoint thread and its stop timer keep nothing
// alive. When a migration failed at start (a host table already called
// threepid_outbox), closing the database waited on them alone, the event
// loop ran dry, and `node dist/cli.js` exited 0 printing nothing, so
// systemd's Restart=on-failure never fired; `--check` read the migration as
// merely pending and passed.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { stringify as toYaml } from 'yaml';
import { freePort, queryDb } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';

const CLI = path.resolve(__dirname, '../..', 'dist', 'cli.js');

interface Exit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to its end (jest's timeout fails a process that never ends). */
function runCli(dir: string, args: string[]): Promise<Exit> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe('a start that fails', () => {
  let dir: string;
  let configFile: string;
  let database: string;

  beforeAll(async () => {
    dir = tempDir('threepid-failed-start-');
    database = path.join(dir, 'host.sqlite');
    // The host's own table, under the name migration 0010 gives the module's outbox.
    const host = new BetterSqlite3(database);
    host.exec('CREATE TABLE threepid_outbox (owner TEXT NOT NULL, note TEXT)');
    host.close();
    configFile = path.join(dir, 'sidecar.yaml');
    writeFileSync(
      configFile,
      toYaml({
        public_baseurl: 'https://matrix.example.org',
        database: { path: database },
        email: { dev_mail_dir: path.join(dir, 'mail') },
        listeners: { client: { host: '127.0.0.1', port: await freePort() }, internal: { host: '127.0.0.1', port: await freePort() } },
      }),
    );
  });
  afterAll(() => removeDir(dir));

  it('fails --check, naming the migration, and leaves the file as it was', async () => {
    const exit = await runCli(dir, ['--check', '--config', configFile]);
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/database: .*migration 0010_prefixed_tables failed: .*threepid_outbox/);
    const tables = await queryDb<{ name: string }>(database, "SELECT name FROM sqlite_master WHERE type = 'table'");
    expect(tables.map((table) => table.name)).toEqual(['threepid_outbox']);
  }, 60_000);

  it('exits non-zero from the sidecar, with the error on stderr', async () => {
    const exit = await runCli(dir, ['--config', configFile]);
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/migration 0010_prefixed_tables failed: .*threepid_outbox/);
    // Nothing of the secrets it made before the migration reaches the output.
    const secrets = readdirSync(dir)
      .filter((name) => name === 'internal-api-secret' || name === 'outbox-keys')
      .flatMap((name) => readFileSync(path.join(dir, name), 'utf8').split(/\s+/))
      .filter((word) => word.length >= 16);
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(exit.stdout + exit.stderr).not.toContain(secret);
  }, 60_000);
});
