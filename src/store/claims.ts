import { sql, type RawBuilder } from 'kysely';
import type { Engine } from './engine';

/**
 * The database's clock, in milliseconds since the epoch: leases shared by
 * replicas are measured by it, so a process whose clock is stepped neither
 * steals another's lease nor loses its own.
 */
export function databaseNow(engine: Engine): RawBuilder<number> {
  return engine === 'postgres'
    ? sql<number>`(extract(epoch from now()) * 1000)::bigint`
    : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
}

/** A message as one claim holds it. */
export interface Claim {
  readonly id: string;
  readonly token: string;
}

/** How a group of "sent" marks was written (ids). */
export interface SentRecords {
  /** Under the claim that sent them: the normal case. */
  readonly held: readonly string[];
  /** Their lease had run out, but no one had finished them: recorded sent all the same. */
  readonly withoutLease: readonly string[];
  /** Their lease had run out and another claim had already finished them: sent twice. */
  readonly alreadyFinished: readonly string[];
}
