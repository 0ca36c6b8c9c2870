import type { Kysely } from 'kysely';
import type { Database } from '../../../src/store/schema';
import { SessionStore } from '../../../src/store/sessions';
import { removeDir, tempDir } from '../../support/harness';
import { openTestDatabase } from '../../support/postgres';

describe('SessionStore writes that check what was read', () => {
  let dir: string;
  let db: Kysely<Database>;
  let sessions: SessionStore;
  const NOW = 1_800_000_000_000;

  beforeEach(async () => {
    dir = tempDir('threepid-sessions-');
    ({ db } = await openTestDatabase(dir));
    sessions = new SessionStore(db);
    await sessions.insertSession({
      sid: 'sid1',
      clientSecretHash: 'secret-hash',
      medium: 'email',
      address: 'a@example.org',
      flow: 'register',
      tokenHash: 'token-1',
      sendAttempt: 1,
      expiresAt: NOW + 60_000,
      nextLink: null,
      createdAt: NOW,
    });
  });
  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  it('keeps the language of the newest message: none given is null, a new token may change it, and leaving it out keeps it', async () => {
    expect((await sessions.getSession('sid1'))?.language).toBeNull();
    const token = (attempt: number, language?: string) => ({
      tokenHash: `token-${attempt}`,
      sendAttempt: attempt,
      expiresAt: NOW + 60_000,
      nextLink: null,
      ...(language === undefined ? {} : { language }),
    });
    expect(await sessions.replaceToken('sid1', token(2, 'de'))).toBe(true);
    expect((await sessions.getSession('sid1'))?.language).toBe('de');
    expect(await sessions.replaceToken('sid1', token(3))).toBe(true);
    expect((await sessions.getSession('sid1'))?.language).toBe('de');
  });

  it('finds the newest open session among the stored forms of the secret, in whichever order the forms come', async () => {
    // The same secret stored under an older key of the ring (sid1, above) and, later, under the current one.
    await sessions.insertSession({
      sid: 'sid2',
      clientSecretHash: 'secret-hash-current-key',
      medium: 'email',
      address: 'a@example.org',
      flow: 'register',
      tokenHash: 'token-2',
      sendAttempt: 1,
      expiresAt: NOW + 120_000,
      nextLink: null,
      createdAt: NOW + 60_000,
    });
    const key = { medium: 'email', address: 'a@example.org', flow: 'register', createdSince: NOW - 1 } as const;
    for (const forms of [['secret-hash', 'secret-hash-current-key'], ['secret-hash-current-key', 'secret-hash']]) {
      expect((await sessions.findOpenSession({ ...key, clientSecretHashes: forms }))?.sid).toBe('sid2');
    }
    expect((await sessions.findOpenSession({ ...key, clientSecretHashes: ['secret-hash'] }))?.sid).toBe('sid1');
    expect(await sessions.findOpenSession({ ...key, createdSince: NOW + 60_001, clientSecretHashes: ['secret-hash', 'secret-hash-current-key'] })).toBeUndefined();
  });

  it('validates with the token that was read, counting the check', async () => {
    expect(await sessions.validateWithinAttempts('sid1', 'token-1', 5, NOW, NOW + 1_000)).toBe(true);
    const session = await sessions.getSession('sid1');
    expect(session?.validatedAt).toBe(NOW);
    expect(session?.failedAttempts).toBe(1);
  });

  it('does not validate with a token replaced since it was read', async () => {
    expect(await sessions.replaceToken('sid1', { tokenHash: 'token-2', sendAttempt: 2, expiresAt: NOW + 60_000, nextLink: null })).toBe(true);
    expect(await sessions.validateWithinAttempts('sid1', 'token-1', 5, NOW, NOW + 1_000)).toBe(false);
    expect((await sessions.getSession('sid1'))?.validatedAt).toBeNull();
  });

  it('does not validate an expired session, nor one out of tries', async () => {
    expect(await sessions.validateWithinAttempts('sid1', 'token-1', 5, NOW + 60_001, NOW + 1_000)).toBe(false);
    for (let i = 0; i < 5; i++) expect(await sessions.reserveTokenAttempt('sid1', 5)).toBe(true);
    expect(await sessions.validateWithinAttempts('sid1', 'token-1', 5, NOW, NOW + 1_000)).toBe(false);
  });

  it('does not replace the token of a session validated meanwhile, nor go back to a lower attempt', async () => {
    expect(await sessions.replaceToken('sid1', { tokenHash: 'token-0', sendAttempt: 1, expiresAt: NOW, nextLink: null })).toBe(false);
    await sessions.validateWithinAttempts('sid1', 'token-1', 5, NOW, NOW + 1_000);
    expect(await sessions.replaceToken('sid1', { tokenHash: 'token-2', sendAttempt: 2, expiresAt: NOW, nextLink: null })).toBe(false);
    expect((await sessions.getSession('sid1'))?.tokenHash).toBe('token-1');
  });
});
