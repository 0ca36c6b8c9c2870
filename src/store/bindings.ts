import type { Kysely } from 'kysely';
import type { Database } from './schema';
import type { Medium } from './sessions';

export interface BindingRecord {
  readonly medium: Medium;
  readonly address: string;
  readonly userId: string;
  readonly validatedAt: number;
  readonly addedAt: number;
}

/** The module's own 3PID directory. */
export class BindingStore {
  constructor(private readonly db: Kysely<Database>) {}

  async find(medium: Medium, address: string): Promise<BindingRecord | undefined> {
    const row = await this.db
      .selectFrom('threepid_bindings')
      .selectAll()
      .where('medium', '=', medium)
      .where('address', '=', address)
      .executeTakeFirst();
    return (
      row &&
      Object.freeze({
        medium: row.medium as Medium,
        address: row.address,
        userId: row.user_id,
        validatedAt: Number(row.validated_at),
        addedAt: Number(row.added_at),
      })
    );
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
