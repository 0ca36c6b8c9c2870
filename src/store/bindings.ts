import type { Kysely, Selectable } from 'kysely';
import { QueryCache, slot } from './precompiled';
import type { Database, ThreepidBindingsTable } from './schema';
import type { Medium } from '../model';
import type { BindingRecord, BindingRepository } from '../threepid/ports';

export type { BindingRecord } from '../threepid/ports';

function toRecord(row: Selectable<ThreepidBindingsTable>): BindingRecord {
  return Object.freeze({
    medium: row.medium as Medium,
    address: row.address,
    userId: row.user_id,
    validatedAt: Number(row.validated_at),
    addedAt: Number(row.added_at),
  });
}

/** The module's own 3PID directory. */
export class BindingStore implements BindingRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly queries: QueryCache = new QueryCache(db),
  ) {}

  /** Asked by every requestToken (the flow checks): built once. */
  async find(medium: Medium, address: string): Promise<BindingRecord | undefined> {
    const query = this.queries.get('findBinding', (db) =>
      db.selectFrom('threepid_bindings').selectAll().where('medium', '=', slot('medium')).where('address', '=', slot('address')),
    );
    const { rows } = await this.db.executeQuery<Selectable<ThreepidBindingsTable>>(query.bind({ medium, address }));
    return rows[0] && toRecord(rows[0]);
  }

  /** Binds the address to `userId`, replacing any previous owner. */
  async put(binding: BindingRecord): Promise<void> {
    await this.db
      .insertInto('threepid_bindings')
      .values({
        medium: binding.medium,
        address: binding.address,
        user_id: binding.userId,
        validated_at: binding.validatedAt,
        added_at: binding.addedAt,
      })
      .onConflict((oc) =>
        oc.columns(['medium', 'address']).doUpdateSet({
          user_id: binding.userId,
          validated_at: binding.validatedAt,
          added_at: binding.addedAt,
        }),
      )
      .execute();
  }

  /** Every 3PID bound to `userId`, oldest first. */
  async listForUser(userId: string): Promise<BindingRecord[]> {
    const rows = await this.db
      .selectFrom('threepid_bindings')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('added_at')
      .execute();
    return rows.map(toRecord);
  }

  /** Removes the binding only if it is `userId`'s. */
  async deleteForUser(userId: string, medium: Medium, address: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('threepid_bindings')
      .where('medium', '=', medium)
      .where('address', '=', address)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** True when a binding was removed. */
  async delete(medium: Medium, address: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('threepid_bindings')
      .where('medium', '=', medium)
      .where('address', '=', address)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
