import type { Kysely } from 'kysely';
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
      let query = trx.selectFrom('threepid_rate_limits').select(['tokens', 'updated_at']).where('key', '=', key);
      if (this.engine === 'postgres') query = query.forUpdate();
      const row = await query.executeTakeFirst();
      const { next, result } = decide(row && { tokens: Number(row.tokens), updatedAt: Number(row.updated_at) });
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
