import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { parseConfig } from '../src/config';
import { silentLogger } from '../src/logger';
import { loadOutboxKeyring } from '../src/secret-file';
import { openSqliteDatabase } from '../src/store/database';
import { AesGcmSealer } from '../src/store/sealing';
import { Store } from '../src/store/store';
import { cryptoRandom } from '../src/sources';
import { emailRules } from '../src/threepid/mediums';
import { IdCodec, randomId, SecretMacs, sortableEncode, timeOrderedId } from '../src/threepid/tokens';

/** Creates the database file with the module's own migrations. */
async function createDatabase(file: string): Promise<void> {
  await (await openSqliteDatabase(file)).destroy();
}

const HOUR_MS = 3_600_000;
const FLOWS = ['register', 'register', 'register', 'password', '3pid'] as const;

/**
 * Stores `count` sessions as the module would have left them: sids that start
 * with their time, random hashes of the same sizes, a mix of flows, a third validated (a tenth of
 * those also spent), none old enough for the start-up purge to delete.
 * One transaction, one prepared statement.
 */
export async function seedSessions(file: string, count: number): Promise<void> {
  await createDatabase(file);
  const db = new BetterSqlite3(file);
  try {
    db.pragma('journal_mode = WAL');
    // A throwaway file: no syncing, and a cache that holds the indexes (their keys are random).
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576');
    const insert = db.prepare(
      `INSERT INTO threepid_sessions
         (sid, client_secret_hash, medium, address, flow, next_link, send_attempt, token_hash,
          failed_attempts, created_at, expires_at, validated_at, consumed_at, id_server)
       VALUES (?, ?, 'email', ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, NULL)`,
    );
    const now = Date.now();
    db.transaction(() => {
      let pool = Buffer.alloc(0);
      for (let i = 0; i < count; i++) {
        // 16 bytes of sid, 32 of client_secret hash, 32 of token hash: a sha256 digest is as random.
        if (pool.length < 80) pool = randomBytes(80 * 4096);
        const bytes = pool.subarray(0, 80);
        pool = pool.subarray(80);
        const createdAt = now - (i % HOUR_MS);
        const validated = i % 3 === 0;
        // The sid as the module makes it: the time first, then random bits.
        const sid = Buffer.from(bytes.subarray(0, 16));
        sid.writeUIntBE(createdAt, 0, 6);
        insert.run(
          sortableEncode(sid),
          bytes.subarray(16, 48).toString('base64url'),
          `seeded-user-${i}@example.org`,
          FLOWS[i % FLOWS.length],
          i % 4 === 0 ? 'https://app.example.org/registered' : null,
          1 + (i % 3),
          bytes.subarray(48, 80).toString('base64url'),
          createdAt,
          validated ? now + 24 * HOUR_MS : createdAt + HOUR_MS,
          validated ? createdAt + 60_000 : null,
          validated && i % 10 === 0 ? createdAt + 120_000 : null,
        );
      }
    })();
  } finally {
    db.close();
  }
}

/**
 * Queues `count` registration emails through the module's own outbox store,
 * with no worker running, so that a module started later finds them due.
 */
export async function enqueueEmails(file: string, count: number): Promise<void> {
  // Sealed with the keys the module started on this file will use (the file generated beside it).
  const keyring = loadOutboxKeyring(parseConfig({ database: { path: file } }), false, silentLogger);
  const store = new Store(await openSqliteDatabase(file), 'sqlite', new AesGcmSealer(keyring));
  try {
    const now = Date.now();
    await store.transaction(async (tx) => {
      for (let i = 0; i < count; i++) {
        const sid = randomId(cryptoRandom);
        const link = `https://matrix.example.org/_threepid/client/v1/email/validate?token=${randomId(cryptoRandom)}&client_secret=queued${i}&sid=${sid}`;
        await tx.outbox.enqueue({
          id: randomId(cryptoRandom),
          channel: 'email',
          payload: { template: 'registration', to: `queued-${i}@example.org`, link },
          now,
        });
      }
    });
  } finally {
    await store.destroy();
  }
}

/** What a client posts to submit_url for one seeded session. */
export interface SubmitBody {
  readonly sid: string;
  readonly client_secret: string;
  readonly token: string;
}

/**
 * Stores `count` open email sessions as requestToken leaves them, each with
 * a token known here, and answers the bodies that submit them. The token
 * and secret MACs and the outside sids are made with the module's own code
 * and the keys it finds beside the file, so the module started on it checks
 * them as its own. (Made through the module's HTTP route and read back from
 * the emails, the tens of thousands a run needs took minutes.)
 */
export async function seedSubmittableSessions(file: string, count: number): Promise<SubmitBody[]> {
  await createDatabase(file);
  const keyring = loadOutboxKeyring(parseConfig({ database: { path: file } }), false, silentLogger);
  const macs = new SecretMacs(keyring);
  const ids = new IdCodec(keyring);
  const db = new BetterSqlite3(file);
  const bodies: SubmitBody[] = [];
  try {
    db.pragma('journal_mode = WAL');
    const insert = db.prepare(
      `INSERT INTO threepid_sessions
         (sid, client_secret_hash, medium, address, flow, next_link, send_attempt, token_hash,
          failed_attempts, created_at, expires_at, validated_at, consumed_at, id_server, language)
       VALUES (?, ?, 'email', ?, 'register', NULL, 1, ?, 0, ?, ?, NULL, NULL, NULL, 'en')`,
    );
    const now = Date.now();
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const sid = timeOrderedId(cryptoRandom, { now: () => now });
        const clientSecret = `submit${i}x${randomId(cryptoRandom).slice(0, 8)}`;
        const token = emailRules.newToken(cryptoRandom);
        insert.run(sid, macs.mac(clientSecret), `submit-${i}@example.org`, macs.mac(token), now, now + HOUR_MS);
        bodies.push({ sid: ids.external(sid), client_secret: clientSecret, token });
      }
    })();
  } finally {
    db.close();
  }
  return bodies;
}
