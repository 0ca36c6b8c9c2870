import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import jwt from 'jsonwebtoken';
import { stringify as toYaml } from 'yaml';
import { post, removeDir, tempDir } from '../support/harness';
import { eventually, freePort, queryDb } from '../support/e2e-utils';
import { startSmtpSink } from '../support/smtp';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const REGISTER = '/_matrix/client/v3/register/email/requestToken';

interface Sidecar {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Waits for a JSON log line whose `msg` is `message`. */
  waitForLog(message: string): Promise<Record<string, unknown>>;
}

/** The environment without anything of ours that could leak in from the shell running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MATRIX_HS_THREEPID_') && key !== 'LOG_LEVEL') env[key] = value;
  }
  return { ...env, ...extra };
}

function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the sidecar process (node dist/cli.js)', () => {
  let dir: string;
  const children: ChildProcess[] = [];

  // dist/ is built once per run by test/support/build-global-setup.ts.

  beforeEach(() => {
    dir = tempDir('threepid-cli-');
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await gone;
      }
    }
    removeDir(dir);
  });

  function spawnSidecar(args: string[], env: Record<string, string> = {}): Sidecar {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    return {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      exited,
      async waitForLog(message) {
        let exitedEarly = false;
        void exited.then(() => (exitedEarly = true));
        return eventually<Record<string, unknown> | undefined>(
          () => {
            const line = stdout
              .split('\n')
              .filter((text) => text.startsWith('{'))
              .map((text) => JSON.parse(text) as Record<string, unknown>)
              .find((entry) => entry.msg === message);
            if (!line && exitedEarly) throw new Error(`sidecar exited before "${message}": ${stderr}`);
            return line;
          },
          `log line "${message}"`,
          15_000,
        ) as Promise<Record<string, unknown>>;
      },
    };
  }

  async function ports(): Promise<[number, number]> {
    const client = await freePort();
    let internal = await freePort();
    while (internal === client) internal = await freePort();
    return [client, internal];
  }

  /** Writes a YAML config with listeners on free loopback ports, no SMTP. */
  async function writeConfig(overrides: Record<string, unknown> = {}, file = 'config.yaml') {
    const [clientPort, internalPort] = await ports();
    const config = {
      server_name: 'example.org',
      public_baseurl: `http://127.0.0.1:${clientPort}`,
      listeners: {
        client: { host: '127.0.0.1', port: clientPort },
        internal: { host: '127.0.0.1', port: internalPort },
      },
      database: { path: path.join(dir, 'db', 'threepid.sqlite') },
      email: { dev_mail_dir: path.join(dir, 'mail') },
      ...overrides,
    };
    const configFile = path.join(dir, file);
    writeFileSync(configFile, toYaml(config));
    return {
      configFile,
      clientUrl: `http://127.0.0.1:${clientPort}`,
      internalUrl: `http://127.0.0.1:${internalPort}`,
      secretFile: path.join(dir, 'db', 'internal-api-secret'),
      mailDir: path.join(dir, 'mail'),
    };
  }

  async function startReady(args: string[], env: Record<string, string> = {}): Promise<Sidecar> {
    const sidecar = spawnSidecar(args, env);
    await sidecar.waitForLog('internal listener ready');
    return sidecar;
  }

  it('runs the whole email flow with the development mail transport, logging JSON without secrets', async () => {
    const setup = await writeConfig();
    const sidecar = await startReady(['--config', setup.configFile]);

    const clientSecret = 'cli_client_secret_value_42';
    const res = await post(setup.clientUrl + REGISTER, {
      client_secret: clientSecret,
      email: 'Someone@Example.org',
      send_attempt: 1,
    });
    expect(res.status).toBe(200);
    expectResponseMatchesSpec('client-server/registration.yaml', '/register/email/requestToken', 'post', 200, res.body);
    expect(res.body.submit_url).toBe(`${setup.clientUrl}/_threepid/client/v1/email/submit_token`);

    // The message is written as a .txt file (beside an .eml) in email.dev_mail_dir.
    const txt = await eventually<string | undefined>(
      () => (existsSync(setup.mailDir) ? readdirSync(setup.mailDir).find((name) => name.endsWith('.txt')) : undefined),
      'a .txt message in dev_mail_dir',
    );
    expect(readdirSync(setup.mailDir).some((name) => name.endsWith('.eml'))).toBe(true);
    const message = readFileSync(path.join(setup.mailDir, txt!), 'utf8');
    expect(message).toContain('To: someone@example.org');
    const link = new URL(/https?:\/\/\S+\/validate\?\S+/.exec(message)![0]);
    expect(link.origin).toBe(setup.clientUrl);
    expect(link.searchParams.get('sid')).toBe(res.body.sid);
    const token = link.searchParams.get('token')!;

    // The link opens the confirm page; its form validates the session.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post"');
    const confirmed = await fetch(new URL(link.pathname, setup.clientUrl), { method: 'POST', body: link.searchParams });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('Email address confirmed');

    // The homeserver side, with the generated secret.
    const secret = readFileSync(setup.secretFile, 'utf8').trim();
    const auth = { authorization: `Bearer ${jwt.sign({}, secret, { algorithm: 'HS256', expiresIn: 60 })}` };
    const consumed = await post(
      `${setup.internalUrl}/_threepid/v1/sessions/consume`,
      { sid: res.body.sid, client_secret: clientSecret, flow: 'register' },
      auth,
    );
    expect(consumed.status).toBe(200);
    expect(consumed.body).toEqual({ medium: 'email', address: 'someone@example.org', validated_at: expect.any(Number) });

    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);

    const stdout = sidecar.stdout();
    const lines = logLines(stdout); // throws if any line is not JSON
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => typeof line.level === 'number' && typeof line.msg === 'string')).toBe(true);
    expect(lines.some((line) => line.msg === 'development mail transport: message written (open it to follow the link)')).toBe(
      true,
    );
    expect(stdout).not.toContain(token);
    expect(stdout).not.toContain(clientSecret);
    expect(stdout).not.toContain(secret);
    expect(sidecar.stderr()).toBe('');
  });

  it('generates the internal API secret beside the database, mode 0600, and keeps it across restarts', async () => {
    const setup = await writeConfig();
    const first = await startReady(['--config', setup.configFile]);
    expect(existsSync(setup.secretFile)).toBe(true);
    expect(statSync(setup.secretFile).mode & 0o777).toBe(0o600);
    const secret = readFileSync(setup.secretFile, 'utf8').trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(first.stdout()).not.toContain(secret);

    // The internal API takes JWTs signed with it, and nothing else.
    const url = `${setup.internalUrl}/_threepid/v1/bindings/email/${encodeURIComponent('x@example.org')}`;
    const signed = (key: string) => ({ authorization: `Bearer ${jwt.sign({}, key, { algorithm: 'HS256', expiresIn: 60 })}` });
    const ok = await fetch(url, { headers: signed(secret) });
    expect(ok.status).toBe(404);
    expectMatrixError(await ok.json(), 'M_NOT_FOUND');
    const refused = await fetch(url, { headers: signed('another-secret-that-is-long-enough-0123456789') });
    expect(refused.status).toBe(401);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const second = await startReady(['--config', setup.configFile]);
    expect(readFileSync(setup.secretFile, 'utf8').trim()).toBe(secret);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('sends CORS headers on the client listener (a preflight answers 200) and none on the internal one', async () => {
    const setup = await writeConfig();
    const sidecar = await startReady(['--config', setup.configFile]);
    const preflight = await fetch(setup.clientUrl + REGISTER, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.element.io', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('X-Requested-With, Content-Type, Authorization');
    const unknown = await fetch(`${setup.clientUrl}/_matrix/client/v3/nothing`);
    expect([unknown.status, unknown.headers.get('access-control-allow-origin')]).toEqual([404, '*']);
    const internal = await fetch(`${setup.internalUrl}/health`, { headers: { origin: 'https://app.element.io' } });
    expect([internal.status, internal.headers.get('access-control-allow-origin')]).toEqual([200, null]);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  });

  it('exits 0 on SIGTERM', async () => {
    const setup = await writeConfig();
    const sidecar = await startReady(['--config', setup.configFile]);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
    expect(logLines(sidecar.stdout()).some((line) => line.msg === 'shutting down' && line.signal === 'SIGTERM')).toBe(true);
  });

  it('on SIGTERM, finishes a request in flight and refuses new connections before exiting', async () => {
    const setup = await writeConfig();
    const sidecar = await startReady(['--config', setup.configFile]);
    const body = JSON.stringify({ client_secret: 'inflight', email: 'inflight@example.org', send_attempt: 1 });
    const half = Math.floor(body.length / 2);
    // A request whose body is only half sent: in flight when the signal comes.
    // It asks for 100 Continue, so the server's answer to that says it has
    // read the headers: the request is then one the server must finish.
    let headersRead: () => void;
    const serverHasHeaders = new Promise<void>((resolve) => (headersRead = resolve));
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' };
      const request = http.request(
        setup.clientUrl + REGISTER,
        { method: 'POST', agent: false, headers },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      request.on('error', reject);
      request.on('continue', () => {
        request.write(body.slice(0, half));
        headersRead();
      });
      void sidecar.waitForLog('shutting down').then(async () => {
        // Once the listeners are closed, a new connection is refused...
        await expect(fetch(`${setup.clientUrl}/_matrix/client/versions`)).rejects.toThrow();
        // ...while the request already in flight is still served.
        request.end(body.slice(half));
      }, reject);
    });
    await serverHasHeaders;
    sidecar.child.kill('SIGTERM');
    const { status, body: text } = await answer;
    expect(status).toBe(200);
    expect(JSON.parse(text)).toEqual({ sid: expect.any(String), submit_url: expect.any(String) });
    expect(await sidecar.exited).toBe(0);
    const rows = await queryDb<{ n: number }>(path.join(dir, 'db', 'threepid.sqlite'), 'SELECT count(*) AS n FROM threepid_sessions');
    expect(Number(rows[0].n)).toBe(1);
  });

  it('on SIGTERM, leaves mail it could not send in the outbox, and sends it after a restart', async () => {
    const smtp = await startSmtpSink({ port: await freePort() });
    const smtpPort = smtp.port;
    await smtp.close(); // SMTP is down while the first process runs
    const setup = await writeConfig({ email: { smtp_host: '127.0.0.1', smtp_port: smtpPort } });
    const first = await startReady(['--config', setup.configFile]);
    const res = await post(`${setup.clientUrl}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'cs',
      email: 'later@example.org',
      send_attempt: 1,
    });
    expect(res.status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const rows = await queryDb<{ status: string }>(path.join(dir, 'db', 'threepid.sqlite'), 'SELECT status FROM threepid_outbox');
    expect(rows).toEqual([{ status: 'pending' }]);

    // The first process scheduled a retry a few seconds on; let that time pass.
    const db = new BetterSqlite3(path.join(dir, 'db', 'threepid.sqlite'));
    db.prepare('UPDATE threepid_outbox SET next_attempt_at = 0').run();
    db.close();
    const back = await startSmtpSink({ port: smtpPort });
    const second = await startReady(['--config', setup.configFile]);
    try {
      const [mail] = await back.waitFor(1);
      expect(mail.to).toEqual(['later@example.org']);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
      await back.close();
    }
  });

  it('reads the config file named by MATRIX_HS_THREEPID_CONFIG', async () => {
    const setup = await writeConfig({ server_name: 'env.example.org' }, 'from-env.yaml');
    const sidecar = await startReady([], { MATRIX_HS_THREEPID_CONFIG: setup.configFile });
    const versions = await fetch(`${setup.clientUrl}/_matrix/client/versions`);
    expect(versions.status).toBe(200);
    const body = (await versions.json()) as { unstable_features: Record<string, boolean> };
    expect(body.unstable_features['m.require_identity_server']).toBe(false);
    const res = await post(setup.clientUrl + REGISTER, { client_secret: 'env_1', email: 'env@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    expect(res.body.submit_url.startsWith(setup.clientUrl)).toBe(true);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unknown top-level key', { smtp_host: 'mail.example.org' }, /smtp_host/],
    ['an unknown key under email', { email: { smtp_hots: 'mail.example.org' } }, /email.*smtp_hots/],
    ['a non-numeric smtp_port', { email: { smtp_host: 'mail.example.org', smtp_port: 'twenty-five' } }, /email\.smtp_port/],
    ['an out-of-range smtp_port', { email: { smtp_host: 'mail.example.org', smtp_port: 70000 } }, /email\.smtp_port/],
    ['a short shared secret', { homeserver: { shared_secret: 'too-short' } }, /homeserver\.shared_secret/],
    ['a bad duration', { email: { validation_token_lifetime: 'forever' } }, /email\.validation_token_lifetime/],
  ])('refuses to start with %s, naming the key', async (_what, overrides, named) => {
    const setup = await writeConfig(overrides);
    const sidecar = spawnSidecar(['--config', setup.configFile]);
    const code = await sidecar.exited;
    expect(code).not.toBe(0);
    expect(sidecar.stderr()).toMatch(named);
    expect(sidecar.stderr()).not.toMatch(/^\s+at /m); // a message, not a stack trace
    expect(existsSync(setup.secretFile)).toBe(false);
  });

  it('--help and --version print and exit 0, starting nothing', async () => {
    const help = spawnSidecar(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: matrix-hs-threepid \[--config FILE \| --config=FILE\] \[--check\] \[--help\] \[--version\]/);
    const version = spawnSidecar(['--version']);
    expect(await version.exited).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout()).toBe(`${manifest.version}\n`);
    expect(readdirSync(dir)).toEqual([]); // no data/, no generated secret
  });

  it.each([['--bogus'], ['--config'], ['serve'], ['--check', 'extra'], ['--config=']])(
    'answers the usage and exit 2 to %s, starting nothing',
    async (...args) => {
      const sidecar = spawnSidecar(args);
      expect(await sidecar.exited).toBe(2);
      expect(sidecar.stderr()).toContain('Usage: matrix-hs-threepid');
      expect(sidecar.stdout()).toBe('');
      expect(readdirSync(dir)).toEqual([]);
    },
  );

  it('takes --config=FILE as well as --config FILE', async () => {
    const setup = await writeConfig({ server_name: 'equals.example.org' });
    const sidecar = await startReady([`--config=${setup.configFile}`]);
    const res = await post(setup.clientUrl + REGISTER, { client_secret: 'eq_1', email: 'eq@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  });

  it('--check validates the config and lists the pending migrations, creating nothing; after a start, none are pending', async () => {
    const setup = await writeConfig();
    const first = spawnSidecar(['--check', '--config', setup.configFile]);
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toContain(`config: ${setup.configFile} is valid`);
    expect(first.stdout()).toMatch(/does not exist yet/);
    expect(first.stdout()).toMatch(/migration\(s\) pending, applied at start: 0001_threepid_sessions, 0002_outbox/);
    expect(existsSync(path.join(dir, 'db'))).toBe(false);

    const sidecar = await startReady(['--config', setup.configFile]);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
    const second = spawnSidecar(['--config', setup.configFile, '--check']);
    expect(await second.exited).toBe(0);
    expect(second.stdout()).toMatch(/no migration pending/);
  });

  it('--check reports every problem of a bad config, each naming its key, and exits 1', async () => {
    const setup = await writeConfig({
      email: { smtp_host: 'mail.example.org', smtp_port: 'twenty-five', validation_token_lifetime: 'forever' },
      trusted_proxies: ['127.0.0.1', 'proxy.example.org'],
      homeserver: { shared_secret: 'too-short' },
    });
    const sidecar = spawnSidecar(['--check', '--config', setup.configFile]);
    expect(await sidecar.exited).toBe(1);
    for (const key of ['email.smtp_port', 'email.validation_token_lifetime', 'trusted_proxies.1']) {
      expect(sidecar.stderr()).toContain(key);
    }
    expect(sidecar.stderr()).not.toMatch(/^\s+at /m);
    // The checks across keys, on a config whose shapes are right.
    const fixed = await writeConfig({ homeserver: { shared_secret: 'too-short' }, sms: { sender: 'http' } }, 'second.yaml');
    const again = spawnSidecar(['--check', '--config', fixed.configFile]);
    expect(await again.exited).toBe(1);
    expect(again.stderr()).toContain('homeserver.shared_secret');
    expect(again.stderr()).toContain('sms.http');
  });

  it("--check warns about each allowed_local_3pids pattern that does not end in $, with an address it admits; a pattern RE2 cannot run is an error naming its key", async () => {
    const setup = await writeConfig({
      allowed_local_3pids: [
        { medium: 'email', pattern: '^[^@]+@example\\.org$' },
        { medium: 'email', pattern: '^[^@]+@example\\.org' },
      ],
      address_policy: { disposable_domains: { enabled: true } },
    });
    const sidecar = spawnSidecar(['--check', '--config', setup.configFile]);
    expect(await sidecar.exited).toBe(0);
    expect(sidecar.stdout()).toContain('address policy: disposable domains from disposable-email-domains-js 1.26.0 (published 2026-09-21), 8883 domains');
    const warnings = sidecar.stdout().split('\n').filter((line) => line.startsWith('config: warning: allowed_local_3pids'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^config: warning: allowed_local_3pids\.1\.pattern \(\^\[\^@\]\+@example\\\.org\) does not end in \$.*e\.g\. \S+@example\.org\.\S+$/);

    const bad = await writeConfig(
      { allowed_local_3pids: [{ medium: 'email', pattern: '(?P<user>[^@]+)@(?P=user)\\.org$' }], sms: { daily_limit: 0 } },
      'bad.yaml',
    );
    const refused = spawnSidecar(['--check', '--config', bad.configFile]);
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toMatch(/allowed_local_3pids\.0\.pattern: .*backreference/i);
    expect(refused.stderr()).toContain('sms.daily_limit');
  });

  it("--check reports a database it cannot read, and exits 1", async () => {
    const setup = await writeConfig({ database: { path: path.join(dir, 'not-a-db') } });
    writeFileSync(path.join(dir, 'not-a-db'), 'this is not SQLite'.repeat(100));
    const sidecar = spawnSidecar(['--check', '--config', setup.configFile]);
    expect(await sidecar.exited).toBe(1);
    expect(sidecar.stderr()).toMatch(/^database: .*not-a-db: /m);
  });

  it("takes Synapse's email block as pasted: subjects, %(app)s in notif_from, enable_tls, and a note for the notification keys", async () => {
    const smtp = await startSmtpSink({ port: await freePort() });
    try {
      const setup = await writeConfig({
        email: {
          smtp_host: '127.0.0.1',
          smtp_port: smtp.port,
          enable_tls: false,
          notif_from: '%(app)s <noreply@example.org>',
          app_name: 'Example Chat',
          enable_notifs: true,
          notif_for_new_users: false,
          client_base_url: 'https://chat.example.org',
          subjects: { email_validation: '[%(server_name)s] Validate your email', messages_in_room: 'ignored here' },
        },
      });
      const sidecar = await startReady(['--config', setup.configFile]);
      const note = await sidecar.waitForLog(
        "config: accepted for Synapse's sake and doing nothing here (no notification emails are sent, no Jinja template is read): " +
          'email.enable_notifs, email.notif_for_new_users, email.client_base_url, email.subjects.messages_in_room',
      );
      expect(note.keys).toEqual(['email.enable_notifs', 'email.notif_for_new_users', 'email.client_base_url', 'email.subjects.messages_in_room']);
      const res = await post(setup.clientUrl + REGISTER, { client_secret: 'syn_1', email: 'syn@example.org', send_attempt: 1 });
      expect(res.status).toBe(200);
      const [mail] = await smtp.waitFor(1);
      expect(mail.subject).toBe('[example.org] Validate your email');
      expect(mail.raw).toMatch(/^From: "?Example Chat"? <noreply@example\.org>/m);
      sidecar.child.kill('SIGTERM');
      expect(await sidecar.exited).toBe(0);
    } finally {
      await smtp.close();
    }
  });

  it('reads the shared secret from the file MATRIX_HS_THREEPID_SHARED_SECRET_FILE names (a container secret)', async () => {
    const setup = await writeConfig();
    const secretFile = path.join(dir, 'run-secrets-shared');
    const secret = 'a-container-secret-of-forty-characters!!';
    writeFileSync(secretFile, `${secret}\n`);
    const sidecar = await startReady(['--config', setup.configFile], { MATRIX_HS_THREEPID_SHARED_SECRET_FILE: secretFile });
    expect(existsSync(setup.secretFile)).toBe(false); // nothing generated
    const url = `${setup.internalUrl}/_threepid/v1/bindings/email/${encodeURIComponent('x@example.org')}`;
    const ok = await fetch(url, { headers: { authorization: `Bearer ${jwt.sign({}, secret, { algorithm: 'HS256', expiresIn: 60 })}` } });
    expect(ok.status).toBe(404);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  });

  it('refuses to start when the --config file does not exist', async () => {
    const sidecar = spawnSidecar(['--config', path.join(dir, 'missing.yaml')]);
    expect(await sidecar.exited).not.toBe(0);
    expect(sidecar.stderr()).toContain('missing.yaml');
  });
});
