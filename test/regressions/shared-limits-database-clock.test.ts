// Regression: the rate-limit buckets replicas share through PostgreSQL were
// refilled by each replica's own wall clock. A replica whose clock ran an
// hour ahead found every bucket another had emptied full again, and one an
// hour behind wrote times that let the next take refill an hour early.
// Refills of shared buckets are now timed by the database's clock; SQLite,
// one process's store, keeps the process's (injected) clock.
import type { Kysely } from 'kysely';
import { RateLimitStore } from '../../src/store/rate-limits';
import type { Database } from '../../src/store/schema';
import { ThreepidError } from '../../src/threepid/errors';
import { DatabaseRateLimiter } from '../../src/threepid/rate-limiter';
import { FakeClock, removeDir, tempDir } from '../support/harness';
import { openTestDatabase, testEngine } from '../support/postgres';

/** Synapse's default `rc_3pid_validation`: one token in 333 s, full in 28 minutes. */
const LIMIT = { perSecond: 0.003, burstCount: 5 };
const TOKEN_MS = 1000 / LIMIT.perSecond;
const HOUR_MS = 3_600_000;

let dir: string;
let db: Kysely<Database>;

beforeEach(async () => {
  dir = tempDir();
  ({ db } = await openTestDatabase(dir));
});

afterEach(async () => {
  await db.destroy();
  removeDir(dir);
});

function limiterOn(clock: FakeClock): DatabaseRateLimiter {
  return new DatabaseRateLimiter(new RateLimitStore(db, testEngine()), 'rc_3pid_validation_ip', LIMIT, clock);
}

async function spendBurst(limiter: DatabaseRateLimiter, key: string): Promise<void> {
  for (let i = 0; i < LIMIT.burstCount; i++) await limiter.take(key);
}

async function expectRefused(limiter: DatabaseRateLimiter, key: string): Promise<void> {
  const err = await limiter.take(key).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(err).toBeInstanceOf(ThreepidError);
  const refusal = err as ThreepidError;
  expect(refusal.errcode).toBe('M_LIMIT_EXCEEDED');
  // Timed by the one clock, the wait is a token's refill less the moments since the bucket emptied.
  expect(refusal.extra.retry_after_ms).toBeGreaterThan(TOKEN_MS - 60_000);
  expect(refusal.extra.retry_after_ms).toBeLessThanOrEqual(Math.ceil(TOKEN_MS));
}

(testEngine() === 'postgres' ? describe : describe.skip)('buckets shared through PostgreSQL', () => {
  // Two replicas on one database whose process clocks disagree by an hour.
  const behind = () => limiterOn(new FakeClock(Date.now()));
  const ahead = () => limiterOn(new FakeClock(Date.now() + HOUR_MS));

  it('are not refilled early by a replica whose clock runs ahead', async () => {
    await spendBurst(behind(), 'ip:203.0.113.10');
    await expectRefused(ahead(), 'ip:203.0.113.10');
    await expectRefused(behind(), 'ip:203.0.113.10');
  });

  it('are not refilled early after a replica whose clock runs behind touched them', async () => {
    const [early, late] = [behind(), ahead()];
    await spendBurst(late, 'ip:203.0.113.11');
    await expectRefused(early, 'ip:203.0.113.11');
    await expectRefused(late, 'ip:203.0.113.11');
  });

  it('are purged as idle by the database’s clock too', async () => {
    await spendBurst(behind(), 'ip:203.0.113.13');
    const store = new RateLimitStore(db, 'postgres');
    // The purge of a replica whose clock runs two days ahead finds the day-old mark far off.
    expect(await store.deleteIdleFor(86_400_000, Date.now() + 2 * 86_400_000)).toBe(0);
    await expectRefused(ahead(), 'ip:203.0.113.13');
  });
});

(testEngine() === 'sqlite' ? it : it.skip)('SQLite, one process’s store, times refills by the injected process clock', async () => {
  const clock = new FakeClock();
  const limiter = limiterOn(clock);
  await spendBurst(limiter, 'ip:203.0.113.12');
  await expectRefused(limiter, 'ip:203.0.113.12');
  clock.advance(Math.ceil(TOKEN_MS));
  await limiter.take('ip:203.0.113.12');
  await expectRefused(limiter, 'ip:203.0.113.12');
});

// The check every requestToken makes before reading its body is a read alone:
// it wrote the bucket back under a lock, a second write transaction per request.
it('check refuses an emptied bucket as take does, timed the same way, and writes nothing', async () => {
  const clock = new FakeClock();
  const limiter = limiterOn(clock);
  const rows = async () => db.selectFrom('threepid_rate_limits').select(['key', 'tokens', 'updated_at']).orderBy('key').execute();
  await limiter.check('ip:203.0.113.20');
  expect(await rows()).toEqual([]);
  await spendBurst(limiter, 'ip:203.0.113.20');
  const spent = await rows();
  const refused = await limiter.check('ip:203.0.113.20').then(
    () => undefined,
    (reason: unknown) => reason as ThreepidError,
  );
  expect(refused?.errcode).toBe('M_LIMIT_EXCEEDED');
  expect(refused?.extra.retry_after_ms).toBeGreaterThan(TOKEN_MS - 60_000);
  expect(refused?.extra.retry_after_ms).toBeLessThanOrEqual(Math.ceil(TOKEN_MS));
  expect(await rows()).toEqual(spent);
});
