import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { Medium } from '../model';
import type { Database } from './schema';

/** A stored value that names `keyId` in front, as `v1.<key id>.…` (a client secret's MAC, a sealed payload). */
function namesKey(column: 'client_secret_hash' | 'payload', keyId: string): Expression<SqlBool> {
  const prefix = `v1.${keyId}.`;
  return sql<SqlBool>`substr(${sql.ref(column)}, 1, ${sql.lit(prefix.length)}) = ${prefix}`;
}

/** Per medium, how long after it was made a session is continued, and how long after that it can be used at the latest. */
export type ContinuationBounds = Readonly<Record<Medium, { readonly windowMs: number; readonly lastUseAfterWindowMs: number }>>;

/** `CASE medium WHEN … THEN … END` over one field of `bounds`. */
function perMedium(bounds: ContinuationBounds, field: 'windowMs' | 'lastUseAfterWindowMs') {
  const arms = Object.entries(bounds).map(([medium, bound]) => sql`WHEN ${sql.lit(medium)} THEN ${sql.lit(bound[field])}`);
  return sql<number>`CASE medium ${sql.join(arms, sql` `)} END`;
}

/**
 * Sessions whose client secret was stored under one of `keyIds` (with
 * `unkeyed`, also those stored as a plain hash, before MACs) and that can
 * still be used at `now`: how many, when the last of them stops as they
 * stand, and when at the latest if clients continue them as late as they
 * may. A validated session is usable until it expires; an open one for
 * `openMarginMs` more (the caller says why), and one still in its
 * continuation window until that window's end and `lastUseAfterWindowMs`.
 */
export async function sessionsStoredUnder(
  db: Kysely<Database>,
  query: { keyIds: readonly string[]; unkeyed: boolean; now: number; openMarginMs: number; continuation: ContinuationBounds },
): Promise<{ count: number; lastUsableAt: number | null; lastUsableIfContinuedAt: number | null }> {
  const usableUntil = sql<number>`CASE WHEN validated_at IS NULL THEN expires_at + ${sql.lit(query.openMarginMs)} ELSE expires_at END`;
  const windowEnd = sql<number>`created_at + ${perMedium(query.continuation, 'windowMs')}`;
  const continuedUntil = sql<number>`${windowEnd} + ${perMedium(query.continuation, 'lastUseAfterWindowMs')}`;
  const continuable = sql<SqlBool>`validated_at IS NULL AND id_server IS NULL AND ${windowEnd} >= ${query.now}`;
  const usableIfContinuedUntil = sql<number>`CASE WHEN ${continuable} AND ${continuedUntil} > ${usableUntil} THEN ${continuedUntil} ELSE ${usableUntil} END`;
  const row = await db
    .selectFrom('threepid_sessions')
    .select([
      sql<number | string>`count(*)`.as('count'),
      sql<number | string | null>`max(${usableUntil})`.as('last'),
      sql<number | string | null>`max(${usableIfContinuedUntil})`.as('last_if_continued'),
    ])
    .where((eb) =>
      eb.or([
        ...query.keyIds.map((id) => namesKey('client_secret_hash', id)),
        ...(query.unkeyed ? [sql<SqlBool>`substr(client_secret_hash, 1, 3) <> 'v1.'`] : []),
      ]),
    )
    .where(sql<SqlBool>`${usableIfContinuedUntil} >= ${query.now}`)
    .executeTakeFirstOrThrow();
  const time = (value: number | string | null) => (value === null ? null : Number(value));
  return { count: Number(row.count), lastUsableAt: time(row.last), lastUsableIfContinuedAt: time(row.last_if_continued) };
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
