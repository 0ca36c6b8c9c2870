import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { Database } from './schema';

/** A stored value that names `keyId` in front, as `v1.<key id>.…` (a client secret's MAC, a sealed payload). */
function namesKey(column: 'client_secret_hash' | 'payload', keyId: string): Expression<SqlBool> {
  const prefix = `v1.${keyId}.`;
  return sql<SqlBool>`substr(${sql.ref(column)}, 1, ${sql.lit(prefix.length)}) = ${prefix}`;
}

/**
 * Sessions whose client secret was stored under one of `keyIds` (with
 * `unkeyed`, also those stored as a plain hash, before MACs) and that can
 * still be used at `now`: how many, and when the last of them stops. A
 * validated session is usable until it expires; an open one for
 * `openMarginMs` more (the caller says why).
 */
export async function sessionsStoredUnder(
  db: Kysely<Database>,
  query: { keyIds: readonly string[]; unkeyed: boolean; now: number; openMarginMs: number },
): Promise<{ count: number; lastUsableAt: number | null }> {
  const usableUntil = sql<number>`CASE WHEN validated_at IS NULL THEN expires_at + ${sql.lit(query.openMarginMs)} ELSE expires_at END`;
  const row = await db
    .selectFrom('threepid_sessions')
    .select([sql<number | string>`count(*)`.as('count'), sql<number | string | null>`max(${usableUntil})`.as('last')])
    .where((eb) =>
      eb.or([
        ...query.keyIds.map((id) => namesKey('client_secret_hash', id)),
        ...(query.unkeyed ? [sql<SqlBool>`substr(client_secret_hash, 1, 3) <> 'v1.'`] : []),
      ]),
    )
    .where(sql<SqlBool>`${usableUntil} >= ${query.now}`)
    .executeTakeFirstOrThrow();
  return { count: Number(row.count), lastUsableAt: row.last === null ? null : Number(row.last) };
}

/** Messages still to send whose payload was sealed under `keyId`. */
export async function pendingMessagesSealedUnder(db: Kysely<Database>, keyId: string): Promise<number> {
  const row = await db
    .selectFrom('threepid_outbox')
    .select(sql<number | string>`count(*)`.as('count'))
    .where('status', '=', 'pending')
    .where(namesKey('payload', keyId))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
