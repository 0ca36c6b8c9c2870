// Regression: on PostgreSQL, a key's first takes raced past the shared rate
// limit. `SELECT … FOR UPDATE` locks nothing while the bucket row does not
// exist, so every concurrent first take read "no bucket" and spent a full
// one: ten takes at once on a new key with a burst of 3 all passed.
import path from 'node:path';
import type { Kysely } from 'kysely';
import { openPostgresDatabase } from '../../src/store/database';
import { RateLimitStore } from '../../src/store/rate-limits';
import type { Database } from '../../src/store/schema';
import { ThreepidError } from '../../src/threepid/errors';
import { DatabaseRateLimiter } from '../../src/threepid/rate-limiter';
import { FakeClock, removeDir, tempDir } from '../support/harness';
import { postgresDatabaseFor, testEngine } from '../support/postgres';

const TAKES = 10;
const LIMIT = { perSecond: 0.001, burstCount: 3 };

// Two replicas' connection pools on one database, five connections each:
// the ten takes run on ten connections at once. SQLite is one process's store.
(testEngine() === 'postgres' ? describe : describe.skip)('rate-limit buckets shared through PostgreSQL', () => {
  let dir: string;
  const replicas: Array<Kysely<Database>> = [];

  beforeAll(async () => {
    dir = tempDir();
    const url = await postgresDatabaseFor(path.join(dir, 'threepid.sqlite'));
    replicas.push(await openPostgresDatabase(url, TAKES / 2), await openPostgresDatabase(url, TAKES / 2));
  });

  afterAll(async () => {
    for (const db of replicas) await db.destroy();
    removeDir(dir);
  });

  async function outcomes(key: string): Promise<{ passed: number; refused: number }> {
    const clock = new FakeClock();
    const limiters = replicas.map((db) => new DatabaseRateLimiter(new RateLimitStore(db, 'postgres'), 'race', LIMIT, clock));
    const results = await Promise.allSettled(Array.from({ length: TAKES }, (_, i) => limiters[i % limiters.length].take(key)));
    const refused = results.filter((r) => r.status === 'rejected');
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ThreepidError);
    return { passed: results.length - refused.length, refused: refused.length };
  }

  it('lets exactly the burst through when a new key is taken ten times at once', async () => {
    expect(await outcomes('ip:203.0.113.7')).toEqual({ passed: LIMIT.burstCount, refused: TAKES - LIMIT.burstCount });
  });

  it('holds the burst for a key whose bucket exists already', async () => {
    const key = 'ip:203.0.113.8';
    await new DatabaseRateLimiter(new RateLimitStore(replicas[0], 'postgres'), 'race', LIMIT, new FakeClock()).take(key);
    const { passed } = await outcomes(key);
    expect(passed).toBe(LIMIT.burstCount - 1);
  });
});
