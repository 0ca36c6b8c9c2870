import type { Kysely } from 'kysely';
import { describeOlderKeyUse, olderKeysInUse } from '../../src/key-report';
import { Keyring } from '../../src/keyring';
import type { Database } from '../../src/store/schema';
import { removeDir, tempDir } from '../support/harness';
import { openTestDatabase } from '../support/postgres';

const NOW = Date.UTC(2026, 5, 1);
const HOUR_MS = 3_600_000;
/** The default token lifetimes: email 1 h, text messages 15 min. */
const LIFETIMES = { email: HOUR_MS, msisdn: HOUR_MS / 4 };
/** Newest first, as the rotation steps leave the ring; the key id `k_1` has LIKE's wildcard in it. */
const RING = new Keyring(['k3', 'k2', 'k_1'].map((id, index) => ({ id, secret: Buffer.alloc(32, index + 1) })));

describe('which older keys stored sessions and messages still need', () => {
  let dir: string;
  let db: Kysely<Database>;

  beforeEach(async () => {
    dir = tempDir('threepid-key-report-');
    ({ db } = await openTestDatabase(dir));
  });

  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  let count = 0;
  async function session(
    clientSecretHash: string,
    expiresAt: number,
    validated: boolean,
    more: { createdAt?: number; medium?: 'email' | 'msisdn'; idServer?: string } = {},
  ) {
    count += 1;
    await db
      .insertInto('threepid_sessions')
      .values({
        sid: `sid${count}`, client_secret_hash: clientSecretHash, medium: more.medium ?? 'email', address: `a${count}@example.org`, flow: 'register',
        next_link: null, send_attempt: 1, token_hash: 'v1.k3.t', created_at: more.createdAt ?? NOW - HOUR_MS, expires_at: expiresAt,
        validated_at: validated ? NOW - HOUR_MS : null, consumed_at: null, id_server: more.idServer ?? null,
      })
      .execute();
  }

  async function message(payload: string, status = 'pending') {
    count += 1;
    await db
      .insertInto('threepid_outbox')
      .values({ id: `m${count}`, channel: 'email', payload, status, created_at: NOW, next_attempt_at: NOW, last_error: null, finished_at: null })
      .execute();
  }

  it('counts, for each older key, the usable sessions made under it or an older key, and the messages it sealed', async () => {
    // Made under k2: its sid may be under k2 or k3. Open: usable 24 h past its token's expiry, or, continued
    // at the end of its window (25 h after it was made), 24 h past the new token's expiry an hour later.
    await session('v1.k2.a', NOW + HOUR_MS, false);
    // Made under k_1, validated: its sid may be under k_1, k2 or k3, until it expires.
    await session('v1.k_1.b', NOW + 2 * HOUR_MS, true);
    // Past use: a validated session expired, an open one more than 24 h past its expiry.
    await session('v1.k_1.c', NOW - 1, true);
    await session('v1.k_1.d', NOW - 25 * HOUR_MS, false, { createdAt: NOW - 26 * HOUR_MS });
    // Made under the current key: needs no older one. A key id that merely starts alike is another key.
    await session('v1.k3.e', NOW + 50 * HOUR_MS, true);
    await session('v1.kx1.f', NOW + 50 * HOUR_MS, true);
    await message('v1.k2.sealed');
    await message('v1.k_1.sealed', 'sent');

    expect(await olderKeysInUse(db, RING, NOW, LIFETIMES)).toEqual([
      { id: 'k2', sessions: 2, sessionsUntil: NOW + 25 * HOUR_MS, sessionsUntilIfContinued: NOW + 49 * HOUR_MS, pendingMessages: 1 },
      { id: 'k_1', sessions: 1, sessionsUntil: NOW + 2 * HOUR_MS, sessionsUntilIfContinued: NOW + 2 * HOUR_MS, pendingMessages: 0 },
    ]);
  });

  it('counts an open session in its continuation window until a token given at its last moment could be used, with the lifetime of its medium', async () => {
    // A text session made an hour ago: continuable until 24 h 15 min after it was made, a new code lives 15 min.
    await session('v1.k2.sms', NOW - 45 * 60_000, false, { medium: 'msisdn' });
    expect(await olderKeysInUse(db, RING, NOW, LIFETIMES)).toEqual([
      { id: 'k2', sessions: 1, sessionsUntil: NOW + 23.25 * HOUR_MS, sessionsUntilIfContinued: NOW + 47.5 * HOUR_MS, pendingMessages: 0 },
      { id: 'k_1', sessions: 0, sessionsUntil: null, sessionsUntilIfContinued: null, pendingMessages: 0 },
    ]);
  });

  it('stops counting continuations at the end of the window, and never for a session an identity server runs', async () => {
    // Made 25 h ago: its window ends now, and it may still be continued.
    await session('v1.k2.edge', NOW - 24 * HOUR_MS, false, { createdAt: NOW - 25 * HOUR_MS });
    // A millisecond older: past its window, and past its grace too.
    await session('v1.k2.past', NOW - 24 * HOUR_MS - 1, false, { createdAt: NOW - 25 * HOUR_MS - 1 });
    // Proxied, made an hour ago and open for another hour: never continued as our own.
    await session('v1.k_1.proxied', NOW - 23 * HOUR_MS, false, { idServer: 'id.example.org' });
    const [k2, k1] = await olderKeysInUse(db, RING, NOW, LIFETIMES);
    expect(k2).toEqual({ id: 'k2', sessions: 2, sessionsUntil: NOW + HOUR_MS, sessionsUntilIfContinued: NOW + 25 * HOUR_MS, pendingMessages: 0 });
    expect(k1).toEqual({ id: 'k_1', sessions: 1, sessionsUntil: NOW + HOUR_MS, sessionsUntilIfContinued: NOW + HOUR_MS, pendingMessages: 0 });
  });

  it('counts a session stored before MACs (a plain hash, no key named) against every older key', async () => {
    await session('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU', NOW + HOUR_MS, true);
    const uses = await olderKeysInUse(db, RING, NOW, LIFETIMES);
    expect(uses.map((use) => [use.id, use.sessions])).toEqual([['k2', 1], ['k_1', 1]]);
  });

  it('says a key may go once nothing needs it, and what still does otherwise', async () => {
    expect(describeOlderKeyUse({ id: 'k2', sessions: 0, sessionsUntil: null, sessionsUntilIfContinued: null, pendingMessages: 0 })).toBe(
      'keys: "k2" is no longer needed: it may be removed',
    );
    expect(describeOlderKeyUse({ id: 'k2', sessions: 3, sessionsUntil: NOW, sessionsUntilIfContinued: NOW + 49 * HOUR_MS, pendingMessages: 2 })).toBe(
      'keys: "k2" is still needed: 3 session(s) may use it until 2026-06-01T00:00:00.000Z (2026-06-03T01:00:00.000Z at the latest, if one is continued with a new token); 2 message(s) sealed with it wait to be sent',
    );
    expect(describeOlderKeyUse({ id: 'k2', sessions: 1, sessionsUntil: NOW, sessionsUntilIfContinued: NOW, pendingMessages: 0 })).toBe(
      'keys: "k2" is still needed: 1 session(s) may use it until 2026-06-01T00:00:00.000Z',
    );
  });
});
