import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/config';
import { keyReport, logOlderKeyUse, tokenLifetimesOf } from '../../src/key-report';
import { Keyring } from '../../src/keyring';
import { openSqliteDatabase } from '../../src/store/database';
import { CapturingLogger, removeDir, tempDir } from '../support/harness';

const NOW = Date.UTC(2026, 5, 1);
const HOUR_MS = 3_600_000;
const keyLine = (id: string, fill: number) => `${id}:${Buffer.alloc(32, fill).toString('base64')}`;

/** `--check`'s key lines, and the start's log lines, over a real SQLite file. */
describe('the key report of --check and of the start', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = tempDir('threepid-key-check-');
    file = path.join(dir, 'threepid.sqlite');
  });

  afterEach(() => removeDir(dir));

  /** A migrated database holding one open session made under `keyId`. */
  async function databaseWithSessionUnder(keyId: string): Promise<void> {
    const db = await openSqliteDatabase(file);
    await db
      .insertInto('threepid_sessions')
      .values({
        sid: 'sid1', client_secret_hash: `v1.${keyId}.x`, medium: 'email', address: 'a@example.org', flow: 'register',
        next_link: null, send_attempt: 1, token_hash: `v1.${keyId}.t`, created_at: NOW - HOUR_MS, expires_at: NOW + HOUR_MS,
        validated_at: null, consumed_at: null, id_server: null,
      })
      .execute();
    await db.destroy();
  }

  it('says no key exists yet while the generated key file has not been made, and creates none', async () => {
    const config = parseConfig({ database: { path: file } });
    expect(await keyReport(config, NOW)).toEqual(['keys: none yet (a key file is generated at the first start)']);
    expect(require('node:fs').existsSync(path.join(dir, 'outbox-keys'))).toBe(false);
  });

  it('names the current key of the configured ring, and whether each older one is still needed', async () => {
    await databaseWithSessionUnder('old');
    const config = parseConfig({ database: { path: file }, outbox: { keys: [keyLine('new', 1), keyLine('old', 2), keyLine('oldest', 3)] } });
    const lines = await keyReport(config, NOW);
    expect(lines[0]).toBe('keys: "new" is current');
    expect(lines[1]).toMatch(/^keys: "old" is still needed: 1 session\(s\) may use it until /);
    expect(lines[2]).toBe('keys: "oldest" is no longer needed: it may be removed');
    expect(lines).toHaveLength(3);
  });

  it('reads the ring from outbox.key_file, and from the generated file once it exists', async () => {
    await databaseWithSessionUnder('b');
    const keyFile = path.join(dir, 'keys.txt');
    writeFileSync(keyFile, `${keyLine('a', 4)}\n${keyLine('b', 5)}\n`);
    expect(await keyReport(parseConfig({ database: { path: file }, outbox: { key_file: keyFile } }), NOW)).toEqual([
      'keys: "a" is current',
      expect.stringMatching(/^keys: "b" is still needed: 1 session/),
    ]);
    writeFileSync(path.join(dir, 'outbox-keys'), `${keyLine('gen', 6)}\n`);
    expect(await keyReport(parseConfig({ database: { path: file } }), NOW)).toEqual(['keys: "gen" is current']);
  });

  it('takes the token lifetimes from each medium of the config', () => {
    const config = parseConfig({ email: { validation_token_lifetime: '2h' }, sms: { validation_token_lifetime: '10m' } });
    expect(tokenLifetimesOf(config)).toEqual({ email: 2 * HOUR_MS, msisdn: 10 * 60_000 });
  });

  it('logs, at start, nothing for a ring of one key, and for each older key whether to keep it', async () => {
    await databaseWithSessionUnder('old');
    const db = await openSqliteDatabase(file);
    try {
      const logger = new CapturingLogger();
      const lifetimes = { email: HOUR_MS, msisdn: HOUR_MS / 4 };
      await logOlderKeyUse(db, new Keyring([{ id: 'new', secret: Buffer.alloc(32, 1) }]), NOW, lifetimes, logger);
      expect(logger.lines).toEqual([]);

      const ring = new Keyring(['new', 'old', 'oldest'].map((id, index) => ({ id, secret: Buffer.alloc(32, index + 1) })));
      await logOlderKeyUse(db, ring, NOW, lifetimes, logger);
      expect(logger.lines).toEqual([
        {
          level: 'info',
          fields: { key: 'old', sessions: 1, until: new Date(NOW + 25 * HOUR_MS).toISOString(), until_if_continued: expect.any(String), pending_messages: 0 },
          message: 'an older outbox key is still needed: keep it in the ring',
        },
        {
          level: 'info',
          fields: { key: 'oldest', sessions: 0, until: null, until_if_continued: null, pending_messages: 0 },
          message: 'an older outbox key is no longer needed: it may be removed',
        },
      ]);
    } finally {
      await db.destroy();
    }
  });
});
