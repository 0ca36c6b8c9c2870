import { existsSync, mkdirSync } from 'node:fs';
import { hash } from 'node:crypto';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { queryDb } from '../support/e2e-utils';
import { testEngine } from '../support/postgres';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';

const REQUEST = '/_matrix/client/v3/register/msisdn/requestToken';
const SUBMIT = '/_threepid/client/v1/msisdn/submit_token';
const VICTIM = { country: 'FR', phone_number: '0612345678' };
const VICTIM_E164 = '+33612345678';
/** The attacker asks for a code to the victim's number with a client_secret of their own. */
const ATTACKERS_SECRET = 'attackers-own-secret';

const sha256 = (text: string) => hash('sha256', text, 'base64url');

interface StoredSession {
  sid: string;
  client_secret_hash: string;
  token_hash: string;
}

/**
 * The offline attack on a copy of the database file (no key file with it,
 * as in a backup or a replica): find the row, by the hash of the attacker's
 * own client_secret, else by the number they chose; then hash each of the
 * 10^6 codes and compare with what the row stores (as it is, and the part
 * after a key id). Answers the codes that match.
 */
function guessCodesOffline(copy: string): { row: StoredSession; matches: string[] } {
  const db = new BetterSqlite3(copy, { readonly: true, fileMustExist: true });
  let row: StoredSession;
  try {
    row = (db.prepare('SELECT sid, client_secret_hash, token_hash FROM threepid_sessions WHERE client_secret_hash = ?').get(sha256(ATTACKERS_SECRET)) ??
      db.prepare("SELECT sid, client_secret_hash, token_hash FROM threepid_sessions WHERE address = ? AND medium = 'msisdn'").get(VICTIM_E164.slice(1))) as StoredSession;
  } finally {
    db.close();
  }
  const stored = new Set([row.token_hash, row.token_hash.split('.').at(-1)]);
  const matches: string[] = [];
  for (let n = 0; n < 1_000_000; n++) {
    const code = String(n).padStart(6, '0');
    if (stored.has(sha256(code)) || stored.has(code)) matches.push(code);
  }
  return { row, matches };
}

/**
 * Issue 22, item 1: SMS codes (and client secrets) were stored as an
 * unkeyed SHA-256. Whoever could read the database asked for a code to
 * someone else's number under a client_secret of their own, found the row
 * by that secret's hash, tried the 10^6 codes offline, and held a validated
 * session for a number they do not own. They are now HMAC-SHA-256 under a
 * key derived from the keyring, which is not in the database.
 */
// The attack reads a database file; PostgreSQL's copies are searched in test/e2e/secrets-at-rest.test.ts.
(testEngine() === 'sqlite' ? describe : describe.skip)('a copy of the database does not give away SMS codes', () => {
  let dir: string;
  let gateway: SmsGateway;
  let hs: Running | undefined;
  let file: string;

  beforeEach(async () => {
    dir = tempDir('threepid-offline-guess-');
    file = path.join(dir, 'threepid.sqlite');
    gateway = await startSmsGateway();
    hs = await startModule({ database: { path: file }, sms: twilioSmsConfig(gateway.url) });
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await gateway.close();
    removeDir(dir);
  });

  /**
   * The database as a backup holds it, without the key file beside it. Taken
   * with SQLite's online backup, a consistent snapshot whatever the module
   * writes meanwhile: a copy of the file after a checkpoint of our own could
   * miss the session, as that checkpoint is refused (busy, never waited for)
   * while the module's checkpoint thread runs one, which it may still be
   * doing for the session's own commit, and the thread may write pages into
   * the file while it is read.
   */
  async function copyOfDatabase(): Promise<string> {
    const copy = path.join(dir, 'stolen', 'copy.sqlite');
    mkdirSync(path.dirname(copy));
    const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    try {
      await db.backup(copy);
    } finally {
      db.close();
    }
    expect(existsSync(path.join(path.dirname(copy), 'outbox-keys'))).toBe(false);
    return copy;
  }

  it('no code of the 10^6 matches what the row stores; the real code still validates the session', async () => {
    const requested = await post(hs!.url + REQUEST, { client_secret: ATTACKERS_SECRET, ...VICTIM, send_attempt: 1 });
    expect(requested.status).toBe(200);
    const sentCode = await gateway.codeTo(VICTIM_E164);

    const { row, matches } = guessCodesOffline(await copyOfDatabase());
    // The attack had the right row: the one the server answered for.
    expect(row.token_hash).not.toBe('');
    expect(matches).toEqual([]);
    // Neither does the attacker's own short secret show through.
    expect(row.client_secret_hash).not.toContain(sha256(ATTACKERS_SECRET));

    // And only the code that was sent confirms the session, online.
    const wrong = await post(hs!.url + SUBMIT, { sid: requested.body.sid, client_secret: ATTACKERS_SECRET, token: sentCode === '000000' ? '000001' : '000000' });
    expect(wrong.body.errcode).toBe('M_TOKEN_INCORRECT');
    const right = await post(hs!.url + SUBMIT, { sid: requested.body.sid, client_secret: ATTACKERS_SECRET, token: sentCode });
    expect(right.body).toEqual({ success: true });
  }, 120_000);

  it('a row stored before the upgrade (plain SHA-256) keeps working until it expires, and the same attack is what it was (the control)', async () => {
    const clientSecret = 'legacy-row-secret';
    const requested = await post(hs!.url + REQUEST, { client_secret: clientSecret, ...VICTIM, send_attempt: 1 });
    expect(requested.status).toBe(200);
    const sentCode = await gateway.codeTo(VICTIM_E164);
    // What the version before stored for this same session.
    const db = new BetterSqlite3(file, { fileMustExist: true });
    try {
      db.prepare('UPDATE threepid_sessions SET client_secret_hash = ?, token_hash = ? WHERE address = ?').run(
        sha256(clientSecret),
        sha256(sentCode),
        VICTIM_E164.slice(1),
      );
    } finally {
      db.close();
    }

    // The control: on such a row the offline attack finds the code, so the search above could have.
    expect(guessCodesOffline(await copyOfDatabase()).matches).toEqual([sentCode]);

    // The same request again finds the old row: same sid, no new text (send_attempt idempotency across the upgrade).
    const again = await post(hs!.url + REQUEST, { client_secret: clientSecret, ...VICTIM, send_attempt: 1 });
    expect(again.body.sid).toBe(requested.body.sid);
    expect(gateway.messages).toHaveLength(1);
    const right = await post(hs!.url + SUBMIT, { sid: requested.body.sid, client_secret: clientSecret, token: sentCode });
    expect(right.body).toEqual({ success: true });
    const [stored] = await queryDb<StoredSession & { validated_at: number | null }>(file, 'SELECT * FROM threepid_sessions');
    expect(stored.validated_at).not.toBeNull();
  }, 120_000);
});
