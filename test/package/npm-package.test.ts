/**
 * The package as a homeserver author gets it: `npm pack`, installed into a
 * scratch TypeScript project (strict, `module: nodenext`) with only express
 * and @types/express beside it, type-checked with the package's own `.d.ts`
 * checked too (no skipLibCheck), then run: a host that mounts the router,
 * answers a real requestToken, validates the session through submit_url and
 * calls `consume`.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeDir, tempDir } from '../support/harness';

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

describe('the npm package', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('threepid-package-');
  });
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
    // dist/ is built by the jest global setup; prepack would build it again.
    const [packed] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    const files = packed.files.map((file) => file.path);
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'dist/delivery/smtp-thread.js', 'sql/0001_threepid_sessions.sql', 'templates/email/registration.html', 'templates/messages/en.json', 'templates/messages/de.json', 'templates/messages/languages.json', 'dist/threads/smtp.js', 'config.sample.yaml', 'monitoring/alerts.yml', 'monitoring/grafana-dashboard.json', 'README.md', 'docs/README.md', 'docs/reference/configuration.md', 'docs/setup/embedding.md', 'LICENSE', 'CHANGELOG.md', 'package.json', 'examples/host-homeserver/host.ts', 'examples/host-homeserver/client-api.ts', 'examples/host-homeserver/sidecar-host.ts', 'examples/nginx/threepid.conf', 'examples/caddy/Caddyfile', 'examples/systemd/matrix-hs-threepid.service']) {
      expect([file, files.includes(file)]).toEqual([file, true]);
    }
    expect(files.filter((file) => /^(src|test|bench|\.ci)\//.test(file) || file.startsWith('tsconfig'))).toEqual([]);

    const host = path.join(dir, 'host');
    mkdirSync(host);
    writeFileSync(path.join(host, 'package.json'), JSON.stringify({ name: 'host', private: true, type: 'module' }));
    writeFileSync(
      path.join(host, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: false, outDir: 'out' },
        files: ['host.ts'],
      }),
    );
    writeFileSync(path.join(host, 'host.ts'), HOST);
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
  }, 300_000);
});
