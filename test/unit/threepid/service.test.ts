import { sql, type Kysely } from 'kysely';
import { parseConfig, type Config } from '../../../src/config';
import type { EmailPayload } from '../../../src/delivery/messages';
import type { Database } from '../../../src/store/schema';
import type { Flow, Medium } from '../../../src/store/sessions';
import { Store } from '../../../src/store/store';
import { AesGcmSealer } from '../../../src/store/sealing';
import { Keyring } from '../../../src/keyring';
import { IdCodec, SecretMacs } from '../../../src/threepid/tokens';
import type { ThreepidDirectory } from '../../../src/threepid/directory';
import { ThreepidError, type Errcode } from '../../../src/threepid/errors';
import {
  EXPIRED_SESSION_GRACE_MS,
  MAX_FAILED_ATTEMPTS,
  ThreepidService,
  VALIDATED_SESSION_LIFETIME_MS,
  DELEGATED_READ_WINDOW_MS,
} from '../../../src/threepid/service';
import { FakeClock, removeDir, tempDir } from '../../support/harness';
import { openTestDatabase, rowNumbers } from '../../support/postgres';
import { SeededRandom } from '../../support/seeded-random';

const CLIENT_SECRET = 'client_secret_1';
const ADDRESS = 'alice@example.com';
const HOUR = 3_600_000;

/** A 3PID directory over a plain map: a test double of the port, not of our code. */
class MapDirectory implements ThreepidDirectory {
  readonly owners = new Map<string, string>();
  async findUserId(medium: Medium, address: string): Promise<string | null> {
    return this.owners.get(`${medium}:${address}`) ?? null;
  }
}

async function rejection(promise: Promise<unknown>): Promise<ThreepidError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ThreepidError);
    return err as ThreepidError;
  }
  throw new Error('expected a ThreepidError, the promise resolved');
}

async function expectErrcode(promise: Promise<unknown>, errcode: Errcode): Promise<void> {
  expect((await rejection(promise)).errcode).toBe(errcode);
}

describe('ThreepidService over the store (SQLite, and PostgreSQL on the postgres project)', () => {
  let dir: string;
  let db: Kysely<Database>;
  let engine: 'sqlite' | 'postgres';
  let store: Store;
  let clock: FakeClock;
  let config: Config;
  let directory: MapDirectory;
  let enqueued: number;
  let service: ThreepidService;
  const keyring = Keyring.ephemeral();
  const ids = new IdCodec(keyring);
  const secrets = new SecretMacs(keyring);
  const sealer = new AesGcmSealer(keyring);

  beforeEach(async () => {
    dir = tempDir('threepid-service-');
    ({ db, engine } = await openTestDatabase(dir));
    store = new Store(db, engine, sealer);
    clock = new FakeClock();
    config = parseConfig({
      public_baseurl: 'https://matrix.example.org/',
      rc_3pid_validation: { per_second: 1000, burst_count: 1000 },
    });
    directory = new MapDirectory();
    enqueued = 0;
    service = new ThreepidService({
      config,
      store,
      directory,
      clock,
      random: new SeededRandom(42),
      ids,
      secrets,
      onEnqueued: () => enqueued++,
    });
  });

  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  function requestToken(flow: Flow = 'register', sendAttempt = 1, extra: object = {}) {
    return service.requestToken(
      flow,
      'email',
      { client_secret: CLIENT_SECRET, email: ADDRESS, send_attempt: sendAttempt, ...extra },
      { clientIp: '192.0.2.1' },
    );
  }

  /** The key a sid is stored under (sids that leave the server are encrypted). */
  function stored(sid: string): string {
    return ids.candidates(sid)[0];
  }

  /** An outbox row's payload, unsealed. */
  function opened(row: { id: string; payload: string | null }): EmailPayload {
    return JSON.parse(sealer.open(row.id, row.payload as string)) as EmailPayload;
  }

  async function outboxRows() {
    return (await db.selectFrom('threepid_outbox').selectAll().orderBy('created_at').execute()).map(rowNumbers);
  }

  async function sessionCount(): Promise<number> {
    return (await db.selectFrom('threepid_sessions').select('sid').execute()).length;
  }

  /** The token of the newest email in the outbox, read from its link. */
  async function lastToken(): Promise<string> {
    const rows = await outboxRows();
    const payload = opened(rows[rows.length - 1]);
    return new URL(payload.link).searchParams.get('token') as string;
  }

  /** Requests a session and submits its token: a validated session. */
  async function validatedSession(flow: Flow = 'register'): Promise<string> {
    const { sid } = await requestToken(flow);
    await service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: await lastToken() });
    return sid;
  }

  describe('requestToken', () => {
    it('writes a session and its email to the outbox, and wakes the worker once', async () => {
      const { sid, submitUrl } = await requestToken();
      expect(submitUrl).toBe('https://matrix.example.org/_threepid/client/v1/email/submit_token');

      const session = await store.sessions.getSession(stored(sid));
      expect(session).toMatchObject({
        medium: 'email',
        address: ADDRESS,
        flow: 'register',
        sendAttempt: 1,
        createdAt: clock.now(),
        expiresAt: clock.now() + config.email.validationTokenLifetimeMs,
        validatedAt: null,
        consumedAt: null,
      });

      const rows = await outboxRows();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ channel: 'email', status: 'pending', attempts: 0, next_attempt_at: clock.now() });
      const payload = opened(rows[0]);
      expect(payload.template).toBe('registration');
      expect(payload.to).toBe(ADDRESS);
      const link = new URL(payload.link);
      expect(link.origin + link.pathname).toBe('https://matrix.example.org/_threepid/client/v1/email/validate');
      expect(link.searchParams.get('sid')).toBe(sid);
      expect(link.searchParams.get('client_secret')).toBe(CLIENT_SECRET);
      expect(enqueued).toBe(1);
    });

    it('stores only hashes of the token and the client_secret', async () => {
      const { sid } = await requestToken();
      const token = await lastToken();
      const row = await db.selectFrom('threepid_sessions').selectAll().where('sid', '=', stored(sid)).executeTakeFirstOrThrow();
      expect(JSON.stringify(row)).not.toContain(token);
      expect(JSON.stringify(row)).not.toContain(CLIENT_SECRET);
    });

    it('writes the session and the outbox row in one transaction: no session without its email', async () => {
      await sql`DROP TABLE threepid_outbox`.execute(db);
      // Matched by message: better-sqlite3's SqliteError can come from another realm under jest.
      await expect(requestToken()).rejects.toMatchObject({ message: expect.stringMatching(/no such table: threepid_outbox|relation "threepid_outbox" does not exist/) });
      expect(await sessionCount()).toBe(0);
      expect(enqueued).toBe(0);
    });

    it('gives back the same session, sending nothing, for a repeated send_attempt', async () => {
      const first = await requestToken('register', 1);
      const again = await requestToken('register', 1);
      expect(again.sid).toBe(first.sid);
      expect(await outboxRows()).toHaveLength(1);
      expect(enqueued).toBe(1);

      const next = await requestToken('register', 2);
      expect(next.sid).toBe(first.sid);
      expect(await outboxRows()).toHaveLength(2);
      expect(enqueued).toBe(2);
    });

    it('refuses an address in use for registration, and an unknown one for password reset', async () => {
      await expectErrcode(requestToken('password'), 'M_THREEPID_NOT_FOUND');
      directory.owners.set(`email:${ADDRESS}`, '@alice:example.org');
      await expectErrcode(requestToken('register'), 'M_THREEPID_IN_USE');
      await expect(requestToken('password')).resolves.toHaveProperty('sid');
      expect(await sessionCount()).toBe(1);
    });
  });

  describe('submitToken', () => {
    it('validates the session with the right token and returns next_link', async () => {
      const { sid } = await requestToken('register', 1, { next_link: 'https://app.example.org/done' });
      const result = await service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: await lastToken() });
      expect(result).toEqual({ nextLink: 'https://app.example.org/done', flow: 'register', language: 'en' });
      expect((await store.sessions.getSession(stored(sid)))?.validatedAt).toBe(clock.now());
    });

    it('refuses the wrong client_secret as an unknown session', async () => {
      const { sid } = await requestToken();
      await expectErrcode(
        service.submitToken({ sid, clientSecret: 'other_secret', token: await lastToken() }),
        'M_INVALID_PARAM',
      );
    });

    it(`refuses even the right token after ${MAX_FAILED_ATTEMPTS} wrong ones`, async () => {
      const { sid } = await requestToken();
      const token = await lastToken();
      for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) {
        await expectErrcode(service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: `wrong${i}` }), 'M_TOKEN_INCORRECT');
      }
      const err = await rejection(service.submitToken({ sid, clientSecret: CLIENT_SECRET, token }));
      expect(err.errcode).toBe('M_TOKEN_INCORRECT');
      expect(err.message).toMatch(/Too many wrong tokens/);
      await expectErrcode(service.getValidated(sid, CLIENT_SECRET), 'M_SESSION_NOT_VALIDATED');
    });

    it(`accepts the right token after ${MAX_FAILED_ATTEMPTS - 1} wrong ones`, async () => {
      const { sid } = await requestToken();
      for (let i = 0; i < MAX_FAILED_ATTEMPTS - 1; i++) {
        await expectErrcode(service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: 'wrong' }), 'M_TOKEN_INCORRECT');
      }
      await service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: await lastToken() });
      await expect(service.getValidated(sid, CLIENT_SECRET)).resolves.toMatchObject({ address: ADDRESS });
    });

    it('starts counting wrong tokens afresh when a new token is sent', async () => {
      const { sid } = await requestToken('register', 1);
      for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) {
        await expectErrcode(service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: 'wrong' }), 'M_TOKEN_INCORRECT');
      }
      await requestToken('register', 2);
      await service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: await lastToken() });
      expect((await store.sessions.getSession(stored(sid)))?.validatedAt).toBe(clock.now());
    });

    it('refuses an expired token with M_SESSION_EXPIRED', async () => {
      const { sid } = await requestToken();
      const token = await lastToken();
      clock.advance(config.email.validationTokenLifetimeMs + 1);
      await expectErrcode(service.submitToken({ sid, clientSecret: CLIENT_SECRET, token }), 'M_SESSION_EXPIRED');
      await expectErrcode(service.getValidated(sid, CLIENT_SECRET), 'M_SESSION_EXPIRED');
    });

    it('accepts a token up to the last millisecond of its lifetime', async () => {
      const { sid } = await requestToken();
      const token = await lastToken();
      clock.advance(config.email.validationTokenLifetimeMs);
      await expect(service.submitToken({ sid, clientSecret: CLIENT_SECRET, token })).resolves.toEqual({ nextLink: null, flow: 'register', language: 'en' });
    });
  });

  describe('a validated session', () => {
    it(`can be used for ${VALIDATED_SESSION_LIFETIME_MS / HOUR} hours after validation, then expires`, async () => {
      const { sid } = await requestToken();
      clock.advance(HOUR / 2); // validated half an hour after the request
      await service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: await lastToken() });
      const validatedAt = clock.now();

      clock.advance(VALIDATED_SESSION_LIFETIME_MS);
      await expect(service.getValidated(sid, CLIENT_SECRET)).resolves.toEqual({
        medium: 'email',
        address: ADDRESS,
        validatedAt,
      });
      clock.advance(1);
      await expectErrcode(service.getValidated(sid, CLIENT_SECRET), 'M_SESSION_EXPIRED');
      await expectErrcode(service.consume(sid, CLIENT_SECRET, 'register'), 'M_SESSION_EXPIRED');
    });

    it('when delegated, answers getValidated3pid for a short window after the first read, not for the rest of its day', async () => {
      const { sid } = await service.requestDelegatedToken('email', { client_secret: CLIENT_SECRET, email: ADDRESS, send_attempt: 1 });
      await service.submitToken({ sid, clientSecret: CLIENT_SECRET, token: await lastToken() });
      const validatedAt = clock.now();
      clock.advance(HOUR); // unread, it keeps its 24 hours
      await expect(service.getDelegatedValidated(sid, CLIENT_SECRET)).resolves.toEqual({ medium: 'email', address: ADDRESS, validatedAt });
      clock.advance(DELEGATED_READ_WINDOW_MS);
      await expect(service.getDelegatedValidated(sid, CLIENT_SECRET)).resolves.toMatchObject({ address: ADDRESS });
      clock.advance(1);
      await expectErrcode(service.getDelegatedValidated(sid, CLIENT_SECRET), 'M_SESSION_EXPIRED');
    });

    it('is not spendable before validation', async () => {
      const { sid } = await requestToken();
      await expectErrcode(service.consume(sid, CLIENT_SECRET, 'register'), 'M_SESSION_NOT_VALIDATED');
    });

    it('is spent once only', async () => {
      const sid = await validatedSession();
      await expect(service.consume(sid, CLIENT_SECRET, 'register')).resolves.toMatchObject({ address: ADDRESS });
      await expectErrcode(service.consume(sid, CLIENT_SECRET, 'register'), 'M_NO_VALID_SESSION');
      await expectErrcode(service.getValidated(sid, CLIENT_SECRET), 'M_NO_VALID_SESSION');
    });

    it('is spent once only when two consume calls race', async () => {
      const sid = await validatedSession();
      // Both calls get past the read and race on the write: the first to arrive
      // waits there for the second, so the race happens on either engine.
      const markSessionConsumed = store.sessions.markSessionConsumed.bind(store.sessions);
      let release!: () => void;
      const bothArrived = new Promise<void>((resolve) => (release = resolve));
      let arrived = 0;
      const markConsumed = jest.spyOn(store.sessions, 'markSessionConsumed').mockImplementation(async (...args) => {
        if (++arrived === 2) release();
        await bothArrived;
        return markSessionConsumed(...args);
      });
      const results = await Promise.allSettled([
        service.consume(sid, CLIENT_SECRET, 'register'),
        service.consume(sid, CLIENT_SECRET, 'register'),
      ]);
      expect(markConsumed).toHaveBeenCalledTimes(2);
      const fulfilled = results.filter((result) => result.status === 'fulfilled');
      const rejected = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      expect(fulfilled).toHaveLength(1);
      expect(rejected).toHaveLength(1);
      expect(rejected[0].reason).toBeInstanceOf(ThreepidError);
      expect((rejected[0].reason as ThreepidError).errcode).toBe('M_NO_VALID_SESSION');
    });

    it('is spent once only when many consume calls race', async () => {
      const sid = await validatedSession();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => service.consume(sid, CLIENT_SECRET, 'register')),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    });

    it('cannot be spent on another flow', async () => {
      const sid = await validatedSession('register');
      await expectErrcode(service.consume(sid, CLIENT_SECRET, 'password'), 'M_NO_VALID_SESSION');
      await expect(service.consume(sid, CLIENT_SECRET, 'register')).resolves.toBeDefined();
    });

    it('is unknown with the wrong client_secret or a malformed sid', async () => {
      const sid = await validatedSession();
      await expectErrcode(service.consume(sid, 'other_secret', 'register'), 'M_NO_VALID_SESSION');
      await expectErrcode(service.consume('no/such sid', CLIENT_SECRET, 'register'), 'M_INVALID_PARAM');
      await expectErrcode(service.consume('unknown', CLIENT_SECRET, 'register'), 'M_NO_VALID_SESSION');
    });
  });

  describe('purgeExpiredSessions', () => {
    it(`deletes only sessions more than ${EXPIRED_SESSION_GRACE_MS / HOUR} hours past expiry`, async () => {
      const lifetime = config.email.validationTokenLifetimeMs;
      const start = clock.now();
      const old = await requestToken('register', 1, { client_secret: 'old_secret' });
      clock.advance(2 * HOUR);
      const young = await requestToken('register', 1, { client_secret: 'young_secret' });

      // `old` expired at start + lifetime; its grace ends a day later.
      clock.ms = start + lifetime + EXPIRED_SESSION_GRACE_MS;
      expect(await service.purgeExpiredSessions()).toBe(0);

      clock.advance(1);
      expect(await service.purgeExpiredSessions()).toBe(1);
      expect(await store.sessions.getSession(stored(old.sid))).toBeUndefined();
      expect(await store.sessions.getSession(stored(young.sid))).toBeDefined();

      // Expired but still in its grace period: still answers M_SESSION_EXPIRED.
      await expectErrcode(service.getValidated(young.sid, 'young_secret'), 'M_SESSION_EXPIRED');
    });

    it('keeps a validated session until a day after its 24-hour proof expires', async () => {
      const sid = await validatedSession();
      clock.advance(VALIDATED_SESSION_LIFETIME_MS + EXPIRED_SESSION_GRACE_MS);
      expect(await service.purgeExpiredSessions()).toBe(0);
      clock.advance(1);
      expect(await service.purgeExpiredSessions()).toBe(1);
      expect(await store.sessions.getSession(stored(sid))).toBeUndefined();
    });
  });
});
