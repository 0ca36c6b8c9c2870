import type { Kysely, Transaction } from 'kysely';
import type { Engine } from './migrations';
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
   * replicas cannot both spend the last token.
   */
  async update<T>(key: string, decide: (current: BucketState | undefined) => { next: BucketState; result: T }): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      const current = this.engine === 'postgres' ? await lockedBucket(trx, key) : await bucket(trx, key);
      const { next, result } = decide(current);
      await trx
        .insertInto('threepid_rate_limits')
        .values({ key, tokens: next.tokens, updated_at: next.updatedAt })
        .onConflict((oc) => oc.column('key').doUpdateSet({ tokens: next.tokens, updated_at: next.updatedAt }))
        .execute();
      return result;
    });
  }

  /** Forgets buckets untouched since `before`: by then they are full again. */
  async deleteIdleSince(before: number): Promise<number> {
    const result = await this.db.deleteFrom('threepid_rate_limits').where('updated_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

async function bucket(trx: Transaction<Database>, key: string): Promise<BucketState | undefined> {
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
