import { execFileSync } from 'node:child_process';
import { hash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Client } from 'pg';
import type { PayloadSealer } from '../../src/store/sealing';
import { eventually, queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { postgresDatabaseFor, testEngine } from '../support/postgres';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';

/** What the module did before payloads were sealed: the payload as it is. For the control run only. */
const CLEAR: PayloadSealer = { seal: (_id, text) => text, open: (_id, text) => text };

const EMAILS = 6;
const PHONES = ['0612345671', '0612345672', '0612345673'];

interface Secrets {
  /** Long secrets: email tokens and client secrets. */
  readonly long: string[];
  /** Six-digit SMS codes. */
  readonly codes: string[];
}

/** Every file that holds the database as it is at rest, read whole. */
async function databaseFiles(file: string): Promise<Array<{ name: string; bytes: Buffer; longOnly?: boolean }>> {
  if (testEngine() === 'sqlite') {
    // A checkpoint from another connection, as the module's checkpoint thread makes.
    const db = new BetterSqlite3(file, { fileMustExist: true });
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } finally {
      db.close();
    }
    return [file, `${file}-wal`].filter(existsSync).map((name) => ({ name, bytes: readFileSync(name) }));
  }
  const url = await postgresDatabaseFor(file);
  const client = new Client({ connectionString: url });
  await client.connect();
  let dataDir: string;
  let oid: string;
  try {
    await client.query('CHECKPOINT');
    dataDir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0].data_directory;
    oid = (await client.query<{ oid: string }>('SELECT oid FROM pg_database WHERE datname = current_database()')).rows[0].oid;
  } finally {
    await client.end();
  }
  const bindir = execFileSync('bash', [path.join(__dirname, '../support/setup-postgres.sh')], { encoding: 'utf8' }).trim();
  const dump = execFileSync(path.join(bindir, 'pg_dump'), ['--dbname', url], { maxBuffer: 256 * 1024 * 1024 });
  const files = [{ name: 'pg_dump', bytes: dump }];
  // The database's own files (old row versions stay there until vacuum) and
  // the cluster's write-ahead log. The log holds every test's rows, so only
  // the long secrets are looked for there: a six-digit code could turn up in it by chance.
  const folders: Array<[string, boolean]> = [
    [path.join(dataDir, 'base', String(oid)), false],
    [path.join(dataDir, 'pg_wal'), true],
  ];
  for (const [folder, longOnly] of folders) {
    for (const entry of readdirSync(folder)) {
      const name = path.join(folder, entry);
      if (statSync(name).isFile()) files.push({ name, bytes: readFileSync(name), longOnly } as never);
    }
  }
  return files;
}

/** Where `secret` is found as itself: for a code, six digits with no digit on either side. */
function foundIn(bytes: Buffer, secret: string, isCode: boolean): boolean {
  const needle = Buffer.from(secret, 'utf8');
  const isDigit = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x39;
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) {
    if (!isCode || (!isDigit(bytes[at - 1]) && !isDigit(bytes[at + needle.length]))) return true;
  }
  return false;
}

/**
 * Tokens, client secrets and codes, after the messages carrying them went
 * out, searched for in the database's files (SQLite: the file and its WAL;
 * PostgreSQL: a pg_dump, the database's files and the WAL) after a
 * checkpoint. The control run stores payloads as they were stored before
 * sealing, and the same search must find them there: it can find what it
 * looks for.
 */
describe('nothing that confirms a session is readable at rest', () => {
  let dir: string;
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let hs: Running | undefined;

  beforeEach(async () => {
    dir = tempDir('threepid-at-rest-');
    smtp = await startSmtpSink();
    gateway = await startSmsGateway();
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await smtp.close();
    await gateway.close();
    removeDir(dir);
  });

  /** Sessions by email and by phone, every message delivered; answers what would confirm them, and the files. */
  async function sessionsSentAndCheckpointed(sealer?: PayloadSealer) {
    const file = path.join(dir, 'threepid.sqlite');
    hs = await startModule(
      {
        database: { path: file },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
        sms: twilioSmsConfig(gateway.url),
      },
      sealer ? { payloadSealer: sealer } : {},
    );
    const clientSecrets: string[] = [];
    for (let i = 0; i < EMAILS; i++) {
      const clientSecret = `atRestSecret${i}x${Date.now()}`;
      clientSecrets.push(clientSecret);
      const answer = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, {
        client_secret: clientSecret,
        email: `at-rest-${i}@example.org`,
        send_attempt: 1,
      });
      expect(answer.status).toBe(200);
    }
    for (const [i, phone] of PHONES.entries()) {
      const clientSecret = `atRestPhone${i}x${Date.now()}`;
      clientSecrets.push(clientSecret);
      const answer = await post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, {
        client_secret: clientSecret,
        country: 'FR',
        phone_number: phone,
        send_attempt: 1,
      });
      expect(answer.status).toBe(200);
    }
    const mails = await smtp.waitFor(EMAILS);
    await gateway.waitFor(PHONES.length);
    await eventually(
      async () => (await queryDb<{ n: number }>(file, "SELECT count(*) AS n FROM threepid_outbox WHERE status = 'sent'"))[0].n == EMAILS + PHONES.length,
      'every message recorded as sent',
    );
    const tokens = mails.map((mail) => linkIn(mail).searchParams.get('token') as string);
    const codes = PHONES.map((phone) => gateway.codeFor(`+33${phone.slice(1)}`));
    const secrets: Secrets = { long: [...tokens, ...clientSecrets], codes };
    expect(secrets.long.every((secret) => secret.length >= 20)).toBe(true);
    expect(codes.every((code) => /^\d{6}$/.test(code))).toBe(true);
    return { secrets, files: await databaseFiles(file) };
  }

  function found(secrets: Secrets, files: Awaited<ReturnType<typeof databaseFiles>>): string[] {
    const hits: string[] = [];
    for (const { name, bytes, longOnly } of files) {
      for (const secret of secrets.long) if (foundIn(bytes, secret, false)) hits.push(`${secret} in ${path.basename(name)}`);
      if (longOnly) continue;
      for (const code of secrets.codes) if (foundIn(bytes, code, true)) hits.push(`code ${code} in ${path.basename(name)}`);
    }
    return hits;
  }

  /**
   * Where the plain SHA-256 of a secret or code is stored: as good as the
   * code itself to whoever tries the 10^6 codes (test/regressions/sms-code-offline-guess.test.ts
   * does it). 43 characters do not turn up by chance: every file is searched.
   */
  function hashesFound(secrets: Secrets, files: Awaited<ReturnType<typeof databaseFiles>>): string[] {
    const hits: string[] = [];
    for (const { name, bytes } of files) {
      for (const secret of [...secrets.long, ...secrets.codes]) {
        if (foundIn(bytes, hash('sha256', secret, 'base64url'), false)) hits.push(`sha256 of ${secret} in ${path.basename(name)}`);
      }
    }
    return hits;
  }

  it('sealed (the default): no token, client secret or code is in any file, nor its plain hash', async () => {
    const { secrets, files } = await sessionsSentAndCheckpointed();
    expect(files.length).toBeGreaterThan(0);
    expect(found(secrets, files)).toEqual([]);
    expect(hashesFound(secrets, files)).toEqual([]);
  }, 60_000);

  it('control: with payloads stored in clear, the same search finds tokens and codes', async () => {
    const { secrets, files } = await sessionsSentAndCheckpointed(CLEAR);
    // Which files still hold them depends on how far the log was reused
    // since: some always do (SQLite's WAL keeps old frames until it is
    // written over; PostgreSQL keeps the old row versions and the WAL).
    expect(found(secrets, files).length).toBeGreaterThan(0);
  }, 60_000);
});
