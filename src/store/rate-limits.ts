import { sql, type Kysely, type Transaction } from 'kysely';
import { databaseNow } from './claims';
import type { Engine } from './engine';
import type { Database } from './schema';

import type { BucketCounters, BucketState } from '../threepid/ports';

export type { BucketState } from '../threepid/ports';

/** Token buckets in the database, so every replica sees the same counts. */
export class RateLimitStore implements BucketCounters {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: Engine,
  ) {}

  /**
   * Reads a bucket, lets `decide` compute its new state, and writes it, in
   * one transaction; on PostgreSQL the row is locked meanwhile, so two
   * replicas cannot both spend the last token, and `decide` is given the
   * database's time, read once the lock is held: replicas' own clocks may
   * disagree (one an hour ahead would find every bucket refilled), the
   * database's is the one they share. SQLite serves one process: its clock.
   */
  async update<T>(
    key: string,
    processNow: number,
    decide: (current: BucketState | undefined, now: number) => { next: BucketState; result: T },
  ): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      const shared = this.engine === 'postgres';
      const current = shared ? await lockedBucket(trx, key) : await bucket(trx, key);
      const now = shared ? await databaseTime(trx) : processNow;
      const { next, result } = decide(current, now);
      await trx
        .insertInto('threepid_rate_limits')
        .values({ key, tokens: next.tokens, updated_at: next.updatedAt })
        .onConflict((oc) => oc.column('key').doUpdateSet({ tokens: next.tokens, updated_at: next.updatedAt }))
        .execute();
      return result;
    });
  }

  async peek(key: string, processNow: number): Promise<{ current: BucketState | undefined; now: number }> {
    if (this.engine !== 'postgres') return { current: await bucket(this.db, key), now: processNow };
    // The bucket and the database's time in one statement, with or without a bucket.
    const { rows } = await sql<{ now: string; tokens: number | null; updated_at: string | null }>`
      SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now, b.tokens, b.updated_at
      FROM (SELECT 1) AS one LEFT JOIN threepid_rate_limits AS b ON b.key = ${key}`.execute(this.db);
    const row = rows[0];
    const current = row.tokens === null || row.updated_at === null ? undefined : { tokens: Number(row.tokens), updatedAt: Number(row.updated_at) };
    return { current, now: Number(row.now) };
  }

  /** Forgets buckets untouched for `idleMs` (by then they are full again), timed as `update` times them. */
  async deleteIdleFor(idleMs: number, processNow: number): Promise<number> {
    const before = this.engine === 'postgres' ? sql<number>`${databaseNow(this.engine)} - ${idleMs}` : processNow - idleMs;
    const result = await this.db.deleteFrom('threepid_rate_limits').where('updated_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/**
 * The database's time in milliseconds since the epoch, as the statement runs:
 * `now()` is the transaction's start, before any wait for the bucket's lock.
 */
async function databaseTime(trx: Transaction<Database>): Promise<number> {
  const { rows } = await sql<{ now: string }>`SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now`.execute(trx);
  return Number(rows[0].now);
}

async function bucket(trx: Kysely<Database>, key: string): Promise<BucketState | undefined> {
  const row = await trx.selectFrom('threepid_rate_limits').select(['tokens', 'updated_at']).where('key', '=', key).executeTakeFirst();
  return row && { tokens: Number(row.tokens), updatedAt: Number(row.updated_at) };
}

/**
 * The bucket, locked until the transaction ends. `FOR UPDATE` locks only a
 * row that exists: a key's first takes would all read "no bucket" and each
 * spend a full one. So the row is made first; of racing inserts one wins,
 * the others wait for it and then lock its row. Only the winner's insert
 * returns the key: the bucket is new, and its placeholder values mean nothing.
 */
async function lockedBucket(trx: Transaction<Database>, key: string): Promise<BucketState | undefined> {
  for (;;) {
    const created = await trx
      .insertInto('threepid_rate_limits')
      .values({ key, tokens: 0, updated_at: 0 })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('key')
      .executeTakeFirst();
    if (created) return undefined;
    const row = await trx
      .selectFrom('threepid_rate_limits')
      .select(['tokens', 'updated_at'])
      .where('key', '=', key)
      .forUpdate()
      .executeTakeFirst();
    if (row) return { tokens: Number(row.tokens), updatedAt: Number(row.updated_at) };
    // Purged between the two statements (it had refilled): make it again.
  }
}
