/**
 * The package as a homeserver author gets it: `npm pack`, installed into a
 * scratch TypeScript project (strict, `module: nodenext`) with only express
 * and @types/express beside it, type-checked with the package's own `.d.ts`
 * checked too (no skipLibCheck), then run: a host that mounts the router,
 * answers a real requestToken, validates the session through submit_url and
 * calls `consume`. Hosts that pass their own Kysely, built from `kysely` in
 * an ES module and in CommonJS (two builds of kysely, two sets of classes),
 * type-check and run through it. The same install then builds and runs the homeserver
 * docs/setup/embedding.md shows, as the guide writes it: the blocks its
 * check comments (test/support/doc-blocks.ts) mark `guide-file`,
 * `guide-file-commonjs`, `guide-install` and `guide-run`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { eventually, freePort } from '../support/e2e-utils';
import { guideOf, type GuideProject } from '../support/guide-files';
import { post, removeDir, tempDir } from '../support/harness';
import { watchProcess } from '../support/sidecar-process';
import { linkIn, startSmtpSink } from '../support/smtp';
import { expectResponseMatchesSpec } from '../support/spec';
import { SECRET_ENV } from '../../src/config/common';

const ROOT = path.resolve(__dirname, '../..');
const TSC = require.resolve('typescript/bin/tsc');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  files: string[];
  scripts: Record<string, string>;
  bin: Record<string, string>;
  peerDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};
const installedVersion = (name: string) =>
  (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** The host a homeserver author writes, against the package's public API only. */
const HOST = `
import express from 'express';
import type { AddressInfo } from 'node:net';
import {
  createThreepidModule,
  parseConfig,
  withThreepidVersions,
  systemClock,
  cryptoRandom,
  type Clock,
  type Config,
  type Database,
  type Engine,
  type MailMessage,
  type MailTransport,
  type RandomSource,
  type RawConfig,
  type RawEmailConfig,
  type ThreepidModule,
  type ValidatedThreepid,
} from 'matrix-hs-threepid';

const clock: Clock = systemClock;
const random: RandomSource = cryptoRandom;
const engine: Engine = 'sqlite';
const tableNames: Array<keyof Database> = [];
const sent: MailMessage[] = [];
const mailTransport: MailTransport = { async send(message) { sent.push(message); }, close() {} };

const app = express();
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = 'http://127.0.0.1:' + (server.address() as AddressInfo).port;
const raw: RawConfig = { server_name: 'example.org', public_baseurl: base, database: { path: process.argv[2] } };
// @ts-expect-error a misspelled key is a type error, not only a ConfigError at run time
const misspelled: RawConfig = { server_name: 'example.org', public_baseurl: base, databse: { path: process.argv[2] } };
// @ts-expect-error parseConfig's parameter is the typed config too (never called)
void (() => parseConfig({ public_baseurl: base, emial: {} }));
// @ts-expect-error at every depth: a misspelled key in a section is a type error too
void (() => parseConfig({ email: { smtp_prot: 25 } }));
const smtp: RawEmailConfig = { smtp_host: 'mail.example.org', smtp_port: 587 };
void smtp;
void misspelled;
const config: Config = parseConfig(raw);
const threepid: ThreepidModule = await createThreepidModule({ config, mailTransport, clock, random, serveVersions: false });
app.use(threepid.clientRouter);
app.get('/_matrix/client/versions', (_req, res) => { res.json(withThreepidVersions({ versions: ['v1.11'] })); });

const requested = await fetch(base + '/_matrix/client/v3/register/email/requestToken', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ client_secret: 'host_secret', email: 'Alice@Example.org', send_attempt: 1 }),
});
const { sid, submit_url } = (await requested.json()) as { sid: string; submit_url: string };
while (sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
const link = new URL(/https?:\\/\\/\\S+validate\\?\\S+/.exec(sent[0].text)![0]);
const submitted = await fetch(submit_url, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ sid, client_secret: 'host_secret', token: link.searchParams.get('token') }),
});
const proof: ValidatedThreepid = await threepid.consume(sid, 'host_secret', 'register');
const versions = (await (await fetch(base + '/_matrix/client/versions')).json()) as { unstable_features: Record<string, boolean> };
console.log(JSON.stringify({ requested: requested.status, submitted: submitted.status, proof, versions, engine, tables: tableNames.length }));
await threepid.close();
server.close();
`;

/**
 * A host that hands the module its own Kysely, built the ordinary way from
 * `kysely` (whose `import` and `require` builds are two sets of classes):
 * its own table beside the module's, a requestToken validated and consumed
 * through it. `tail` runs `main` as the module system allows.
 */
const ownKyselyHost = (tail: string) => `
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import BetterSqlite3 from 'better-sqlite3';
import express from 'express';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { createThreepidModule, engineOf, migrate, parseConfig, type MailMessage } from 'matrix-hs-threepid';

interface HostTables {
  users: { name: string };
}

async function main(file: string) {
  const db = new Kysely<HostTables>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  await db.schema.createTable('users').addColumn('name', 'text', (column) => column.primaryKey()).execute();
  await db.insertInto('users').values({ name: 'alice' }).execute();
  const engine = engineOf(db);
  await migrate(db);
  const sent: MailMessage[] = [];
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = 'http://127.0.0.1:' + (server.address() as AddressInfo).port;
  const threepid = await createThreepidModule({
    config: parseConfig({ server_name: 'example.org', public_baseurl: base, outbox: { keys: ['k1:' + randomBytes(32).toString('base64')] } }),
    database: db,
    mailTransport: { async send(message) { sent.push(message); }, close() {} },
  });
  app.use(threepid.clientRouter);
  const requested = await fetch(base + '/_matrix/client/v3/register/email/requestToken', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_secret: 'own_kysely', email: 'bob@example.org', send_attempt: 1 }),
  });
  const { sid, submit_url } = (await requested.json()) as { sid: string; submit_url: string };
  while (sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  const token = new URL(/https?:\\/\\/\\S+validate\\?\\S+/.exec(sent[0].text)![0]).searchParams.get('token');
  const submitted = await fetch(submit_url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sid, client_secret: 'own_kysely', token }),
  });
  const proof = await threepid.consume(sid, 'own_kysely', 'register');
  await threepid.close();
  server.close();
  const users = await db.selectFrom('users').select('name').execute();
  const tables = await sql<{ name: string }>\`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'threepid%' ORDER BY name\`.execute(db);
  await db.destroy();
  return { engine, requested: requested.status, submitted: submitted.status, proof, users, tables: tables.rows.map((row) => row.name) };
}
${tail}
`;

/** What a homeserver author's install must hold. */
const FILES_SHIPPED = ['dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'dist/delivery/smtp-thread.js', 'sql/0001_threepid_sessions.sql', 'templates/email/registration.html', 'templates/messages/en.json', 'templates/messages/de.json', 'templates/messages/languages.json', 'dist/threads/background.js', 'config.sample.yaml', 'monitoring/alerts.yml', 'monitoring/grafana-dashboard.json', 'README.md', 'docs/README.md', 'docs/reference/configuration.md', 'docs/setup/embedding.md', 'LICENSE', 'CHANGELOG.md', 'package.json', 'examples/host-homeserver/host.ts', 'examples/host-homeserver/client-api.ts', 'examples/host-homeserver/sidecar-host.ts', 'examples/nginx/threepid.conf', 'examples/caddy/Caddyfile', 'examples/systemd/matrix-hs-threepid.service'];

interface Installed {
  /** The scratch project the tarball, express and @types/express are installed into. */
  readonly host: string;
  /** The paths the tarball holds. */
  readonly files: string[];
}

/** `npm pack`, then the tarball installed into a scratch project (once for this file: it is the slow part). */
function packAndInstall(dir: string): Installed {
  // dist/ is built by the jest global setup; prepack would build it again.
  const [packed] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const host = path.join(dir, 'host');
  mkdirSync(host);
  writeFileSync(path.join(host, 'package.json'), JSON.stringify({ name: 'host', private: true, type: 'module' }));
  // From npm's cache where it can; no install scripts: better-sqlite3's
  // native module is the one this checkout built (same pinned version, same Node).
  run(
    'npm',
    [
      'install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock',
      path.join(dir, packed.filename), `express@${installedVersion('express')}`, `@types/express@${installedVersion('@types/express')}`,
    ],
    host,
  );
  const sqliteBuild = 'better-sqlite3/build/Release/better_sqlite3.node';
  expect(installedVersion('better-sqlite3')).toBe(
    (JSON.parse(readFileSync(path.join(host, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version,
  );
  mkdirSync(path.dirname(path.join(host, 'node_modules', sqliteBuild)), { recursive: true });
  copyFileSync(path.join(ROOT, 'node_modules', sqliteBuild), path.join(host, 'node_modules', sqliteBuild));
  return { host, files: packed.files.map((file) => file.path) };
}

/** A guide's project written out in `dir` (inside the scratch project, whose node_modules it uses). */
function writeProject(dir: string, project: GuideProject): string {
  for (const [file, text] of Object.entries(project)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

interface GuideHost {
  readonly url: string;
  /** What it wrote on stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then its exit code (or the signal that ended it). */
  stop(): Promise<number | NodeJS.Signals>;
}

/** The guide's host as its reader starts it (`npm start`: node dist/host.js), configured by the environment the guide reads. */
async function startGuideHost(project: string, smtpPort: number): Promise<GuideHost> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_'))),
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_BASEURL: url,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtpPort),
    THREEPID_DATABASE: path.join(project, 'data', 'threepid.sqlite'),
  };
  const child = spawn(process.execPath, [path.join('dist', 'host.js')], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { output, running, stop } = watchProcess(child);
  try {
    await eventually(() => {
      if (!running()) throw new Error(`the guide's host exited during start:\n${output()}`);
      return output().includes('"msg":"homeserver listening"');
    }, "the guide's host to listen", 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, output, stop };
}

describe('the npm package', () => {
  let dir: string;
  let installed: Installed;
  beforeAll(() => {
    dir = tempDir('threepid-package-');
    installed = packAndInstall(dir);
  }, 240_000);
  afterAll(() => removeDir(dir));

  it('is publishable: not private, exports with types, bin, files, prepack, express as a peer', () => {
    expect(manifest).not.toHaveProperty('private');
    expect(manifest).toMatchObject({
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
      bin: { 'matrix-hs-threepid': 'dist/cli.js' },
      peerDependencies: { express: '^5.0.0' },
    });
    expect(manifest.dependencies).not.toHaveProperty('express');
    expect(manifest.scripts.prepack).toContain('build');
    expect(readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')).toContain('Apache License\n                           Version 2.0');
    expect(existsSync(path.join(ROOT, 'CHANGELOG.md'))).toBe(true);
  });

  it('packs only what runs, installs into a strict nodenext TypeScript host, type-checks, and serves a real requestToken', () => {
    const { host, files } = installed;
    for (const file of FILES_SHIPPED) {
      expect([file, files.includes(file)]).toEqual([file, true]);
    }
    expect(files.filter((file) => /^(src|test|bench|\.ci)\//.test(file) || file.startsWith('tsconfig'))).toEqual([]);

    writeFileSync(
      path.join(host, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: false, outDir: 'out' },
        files: ['host.ts'],
      }),
    );
    writeFileSync(path.join(host, 'host.ts'), HOST);

    // The config's keys carry their documentation into the published types (editors show it), at every depth.
    const published = (file: string) => readFileSync(path.join(host, 'node_modules', manifest.name, 'dist/config', file), 'utf8');
    expect(published('raw-config.d.ts')).toMatch(/\/\*\*\s*\* The homeserver's name[^/]*@default "localhost"\s*\*\/\s*server_name\?:/);
    expect(published('raw/email.d.ts')).toMatch(/\/\*\* The SMTP server's port[^/]*\*\/\s*smtp_port\?:/);
    // Only the package, express and @types/express: the package's .d.ts must check too.
    run(process.execPath, [TSC, '-p', 'tsconfig.json'], host);
    const output = run(process.execPath, [path.join('out', 'host.js'), path.join(dir, 'host.sqlite')], host);
    const result = JSON.parse(output.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(result).toEqual({
      requested: 200,
      submitted: 200,
      proof: { medium: 'email', address: 'alice@example.org', validatedAt: expect.any(Number) },
      versions: { versions: ['v1.11'], unstable_features: { 'm.require_identity_server': false } },
      engine: 'sqlite',
      tables: 0,
    });

    // The bin, as npm links it.
    expect(run(path.join(host, 'node_modules', '.bin', 'matrix-hs-threepid'), ['--version'], host).trim()).toBe(manifest.version);
  }, 120_000);

  it('takes a host\'s own Kysely from `kysely`, in an ES module and in CommonJS: type-checks strict, migrates it, serves a requestToken through it', () => {
    const { host } = installed;
    // better-sqlite3's types in this project only: the install above must keep proving the package's .d.ts needs none.
    const project = path.join(host, 'own-kysely');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'own-kysely', private: true }));
    run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', `@types/better-sqlite3@${installedVersion('@types/better-sqlite3')}`], project);
    const hosts = {
      esm: { type: 'module', tail: 'console.log(JSON.stringify(await main(process.argv[2])));' },
      commonjs: { type: 'commonjs', tail: 'main(process.argv[2]).then((result) => console.log(JSON.stringify(result)));' },
    };
    for (const [name, { type, tail }] of Object.entries(hosts)) {
      const dir = path.join(project, name);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `host-${name}`, private: true, type }));
      // skipLibCheck for the declaration files alone (the first test checked the package's and express's in this install); the host's own code is checked strict.
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: true, outDir: 'out' }, files: ['host.ts'] }),
      );
      writeFileSync(path.join(dir, 'host.ts'), ownKyselyHost(tail));
      run(process.execPath, [TSC, '-p', 'tsconfig.json'], dir);
      // Each is the module system it names, so its Kysely is that build of kysely's.
      expect([name, readFileSync(path.join(dir, 'out/host.js'), 'utf8')]).toEqual([name, type === 'module' ? expect.stringMatching(/^import .* from 'kysely';$/m) : expect.stringContaining('require("kysely")')]);
      const output = run(process.execPath, [path.join('out', 'host.js'), path.join(dir, 'host.sqlite')], dir);
      expect([name, JSON.parse(output.trim().split('\n').pop()!)]).toEqual([
        name,
        {
          engine: 'sqlite',
          requested: 200,
          submitted: 200,
          proof: { medium: 'email', address: 'bob@example.org', validatedAt: expect.any(Number) },
          users: [{ name: 'alice' }],
          tables: expect.arrayContaining(['threepid_bindings', 'threepid_migration', 'threepid_outbox', 'threepid_sessions']),
        },
      ]);
    }
  }, 120_000);

  it("builds the embedding guide's homeserver as written, as an ES module and as CommonJS, and registers a user through it", async () => {
    const guide = guideOf('docs/setup/embedding.md');
    const { esm, commonjs } = guide;
    const shown = ['package.json', 'src/host.ts', 'tsconfig.json'];
    expect([Object.keys(esm).sort(), Object.keys(commonjs).sort()]).toEqual([shown, shown]);
    type Manifest = { dependencies: object; devDependencies: object; scripts: Record<string, string> };
    const guideManifest = JSON.parse(esm['package.json']) as Manifest;
    for (const project of [esm, commonjs]) {
      expect(Object.keys((JSON.parse(project['package.json']) as Manifest).dependencies).sort()).toEqual(['express', manifest.name]);
    }
    // The install commands install what package.json lists; the run commands are its scripts, with variables the host or the module reads.
    const commandLines = (text: string) => text.replace(/\\\n/g, ' ').split('\n').filter((line) => line.trim()).map((line) => line.trim().split(/\s+/));
    const [install, installDev, ...more] = commandLines(guide.install);
    expect([install.slice(0, 2), install.slice(2).sort(), more]).toEqual([['npm', 'install'], Object.keys(guideManifest.dependencies).sort(), []]);
    expect([installDev.slice(0, 3), installDev.slice(3).sort()]).toEqual([['npm', 'install', '--save-dev'], Object.keys(guideManifest.devDependencies).sort()]);
    const runLines = commandLines(guide.run);
    expect(runLines.length).toBeGreaterThan(0);
    for (const line of runLines) {
      const variables = line.slice(0, line.findIndex((word) => !/^[A-Z_]+=/.test(word))).map((word) => word.split('=')[0]);
      for (const name of variables) {
        expect([name, esm['src/host.ts'].includes(`env.${name}`) || Object.values(SECRET_ENV).includes(name as never)]).toEqual([name, true]);
      }
      const [npm, script, name] = line.slice(variables.length);
      expect([npm, guideManifest.scripts[script === 'run' ? name : script]]).toEqual(['npm', expect.any(String)]);
    }
    expect(JSON.parse(esm['package.json'])).toMatchObject({ type: 'module' });
    expect(JSON.parse(commonjs['package.json'])).not.toMatchObject({ type: 'module' });
    expect(JSON.parse(esm['tsconfig.json'])).toMatchObject({ compilerOptions: { module: 'nodenext', strict: true } });

    const esmProject = writeProject(path.join(installed.host, 'guide-esm'), esm);
    const commonjsProject = writeProject(path.join(installed.host, 'guide-commonjs'), commonjs);
    // The guide's own tsconfig. skipLibCheck only because the test above has
    // just checked these same declaration files (the package's, express's,
    // Node's) in this same install, and checking them costs ten times the rest.
    for (const project of [esmProject, commonjsProject]) run(process.execPath, [TSC, '-p', 'tsconfig.json', '--skipLibCheck'], project);
    // Each came out as the module system its package.json names.
    expect(readFileSync(path.join(esmProject, 'dist/host.js'), 'utf8')).toMatch(/^import .* from 'matrix-hs-threepid';$/m);
    expect(readFileSync(path.join(commonjsProject, 'dist/host.js'), 'utf8')).toContain('require("matrix-hs-threepid")');

    const smtp = await startSmtpSink();
    const started: GuideHost[] = [];
    const start = async (project: string) => {
      const host = await startGuideHost(project, smtp.port);
      started.push(host);
      return host;
    };
    try {
      const commonjsHost = await start(commonjsProject);
      const challenged = await post(`${commonjsHost.url}/_matrix/client/v3/register`, {});
      expect([challenged.status, await commonjsHost.stop()]).toEqual([401, 0]);

      const hs = await start(esmProject);
      const register = (body: object) => post(`${hs.url}/_matrix/client/v3/register`, body);
      const account = { username: 'alice', password: 'a long password' };

      // No auth: the UIA 401, the module's stage the one flow.
      const first = await register(account);
      expect(first.status).toBe(401);
      expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 401, first.body);
      expect(first.body).toEqual({ flows: [{ stages: ['m.login.email.identity'] }], params: {}, session: expect.any(String), completed: [] });
      expect(first.headers.get('access-control-allow-origin')).toBe('*');
      const session = first.body.session as string;
      // Clients discover the flows with an empty body: the 401 comes before username and password are looked at.
      for (const body of [{}, { username: 'Not A Localpart!' }, { username: 'bob', password: 7 }]) {
        const discovered = await register(body);
        expect([discovered.status, discovered.body]).toEqual([401, { ...first.body, session: expect.any(String) }]);
      }

      // express.json()'s refusals are Matrix errors with their own status, never a 500.
      const raw = (body: string, headers: Record<string, string>) =>
        fetch(`${hs.url}/_matrix/client/v3/register`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
          .then(async (res) => [res.status, ((await res.json()) as { errcode?: string }).errcode]);
      expect(await raw(JSON.stringify({ username: 'x'.repeat(200_000) }), {})).toEqual([413, 'M_TOO_LARGE']);
      expect(await raw('{"username": ', {})).toEqual([400, 'M_NOT_JSON']);
      expect(await raw('{}', { 'content-type': 'application/json; charset=iso-8859-1' })).toEqual([400, 'M_NOT_JSON']);
      expect(await raw('{}', { 'content-encoding': 'x-unheard-of' })).toEqual([400, 'M_NOT_JSON']);

      const requested = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, {
        client_secret: 'guide_secret',
        email: 'Alice@Example.org',
        send_attempt: 1,
      });
      expect(requested.status).toBe(200);
      const { sid, submit_url } = requested.body as { sid: string; submit_url: string };
      const auth = (creds: object) => ({ ...account, auth: { type: 'm.login.email.identity', session, threepid_creds: creds } });

      // A session not validated yet, and one that does not exist: the 401 carrying the stage's errcode.
      for (const [creds, errcode] of [
        [{ sid, client_secret: 'guide_secret' }, 'M_SESSION_NOT_VALIDATED'],
        [{ sid, client_secret: 'another_secret' }, 'M_NO_VALID_SESSION'],
        [{ sid: 'nosuchsession', client_secret: 'guide_secret' }, 'M_NO_VALID_SESSION'],
      ] as const) {
        const failed = await register(auth(creds));
        expect([failed.status, failed.body.errcode]).toEqual([401, errcode]);
        expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 401, failed.body);
        expect(failed.body).toMatchObject({ flows: first.body.flows, session, completed: [] });
      }

      const token = linkIn(await smtp.nthTo('alice@example.org', 1)).searchParams.get('token');
      expect((await post(submit_url, { sid, client_secret: 'guide_secret', token })).body).toEqual({ success: true });
      const registered = await register(auth({ sid, client_secret: 'guide_secret' }));
      expect(registered.status).toBe(200);
      expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 200, registered.body);
      expect(registered.body).toEqual({ user_id: '@alice:example.org', access_token: expect.any(String), device_id: expect.any(String) });

      // The user table is the module's directory: the address is taken now, and so is the name.
      const again = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'guide_secret_2', email: 'alice@example.org', send_attempt: 1 });
      expect([again.status, again.body.errcode]).toEqual([400, 'M_THREEPID_IN_USE']);
      expect((await register(auth({ sid, client_secret: 'guide_secret' }))).body).toMatchObject({ errcode: 'M_USER_IN_USE', error: expect.any(String) });
      // The session was spent: it registers no second user.
      const spent = await register({ ...auth({ sid, client_secret: 'guide_secret' }), username: 'alice2' });
      expect([spent.status, spent.body.errcode]).toEqual([401, 'M_NO_VALID_SESSION']);

      const validatedEmail = async (email: string, clientSecret: string) => {
        const asked = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: clientSecret, email, send_attempt: 1 });
        expect(asked.status).toBe(200);
        const emailed = linkIn(await smtp.nthTo(email, 1)).searchParams.get('token');
        expect((await post(asked.body.submit_url, { sid: asked.body.sid, client_secret: clientSecret, token: emailed })).body).toEqual({ success: true });
        return { sid: asked.body.sid as string, client_secret: clientSecret };
      };
      const emailStage = (creds: object) => ({ type: 'm.login.email.identity', threepid_creds: creds });
      // No username: a localpart made up; the client's device_id kept.
      const bob = await register({ password: 'a long password', device_id: 'BOBS_PHONE', auth: emailStage(await validatedEmail('bob@example.org', 'guide_secret_bob')) });
      expect(bob.status).toBe(200);
      expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 200, bob.body);
      expect(bob.body).toEqual({ user_id: expect.stringMatching(/^@[0-9a-f]{12}:example\.org$/), access_token: expect.any(String), device_id: 'BOBS_PHONE' });
      // inhibit_login: the account, no access token and no device.
      const dave = await register({ username: 'dave', password: 'a long password', inhibit_login: true, auth: emailStage(await validatedEmail('dave@example.org', 'guide_secret_dave')) });
      expect([dave.status, dave.body]).toEqual([200, { user_id: '@dave:example.org' }]);
      expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 200, dave.body);

      // Only the email flow is offered: a phone number the module validated registers nobody.
      const texted = await post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, { client_secret: 'guide_secret_sms', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
      expect(texted.status).toBe(200);
      const smsDir = path.join(esmProject, 'data', 'sms');
      await eventually(() => existsSync(smsDir) && readdirSync(smsDir).length > 0, 'the text message file');
      const code = /\b(\d{6})\b/.exec(readFileSync(path.join(smsDir, readdirSync(smsDir)[0]), 'utf8'))![1];
      const smsCreds = { sid: texted.body.sid, client_secret: 'guide_secret_sms' };
      expect((await post(texted.body.submit_url, { ...smsCreds, token: code })).body).toEqual({ success: true });
      const byPhone = await register({ username: 'erin', password: 'a long password', auth: { type: 'm.login.msisdn', session, threepid_creds: smsCreds } });
      expect([byPhone.status, byPhone.body]).toEqual([401, { ...first.body, session: expect.any(String) }]);

      expect(await (await fetch(`${hs.url}/_matrix/client/versions`)).json()).toEqual({
        versions: ['v1.11'],
        unstable_features: { 'm.require_identity_server': false },
      });

      // The host's logger hears the module: the key file it generated.
      const logLines = hs.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logLines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('generated a key'), file: expect.stringContaining('outbox-keys') }));
      expect(logLines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('sms.dev_sms_dir') }));
      expect(logLines.filter((line) => line.level === 'error')).toEqual([]);
      for (const secret of ['guide_secret', token!, 'alice@example.org']) expect([secret, hs.output().includes(secret)]).toEqual([secret, false]);
      expect(await hs.stop()).toBe(0);
    } finally {
      // Hosts first: the SMTP server closes once their connections are gone.
      for (const host of started) await host.stop();
      await smtp.close();
    }
  }, 120_000);
});
