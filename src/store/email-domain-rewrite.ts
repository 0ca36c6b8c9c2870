import { sql, type Kysely } from 'kysely';
import type { Logger } from '../logger';
import { canonicaliseDomain } from '../threepid/email-domain';
import type { Engine } from './engine';
import type { Database } from './schema';

/** Serialises the rewrite across PostgreSQL replicas starting together ("3pdm" in ASCII). */
const REWRITE_LOCK_KEY = 0x3370646d;

/** What one pass did, in counts only: a log line never names an address. */
export interface DomainRewriteCounts {
  rewritten: number;
  /** Left as stored: the rewritten address is already another binding. */
  collisions: number;
  /** Left as stored: the domain no longer maps (e.g. it ends with a dot). */
  unmappable: number;
}

/**
 * Earlier versions stored an email domain lower-cased only, so a binding may
 * be spelled `b@xn--strae-oqa.de`, `b@ｅxample.com` or `a@example.com｡`,
 * where lookups now ask for the one UTS-46 spelling. Lower-cased ASCII
 * without an A-label maps to itself, so only rows with `xn--` or a
 * non-ASCII character can differ; the pass reads only those, and writes
 * nothing once they are respelled.
 */
function candidates(db: Kysely<Database>, engine: Engine) {
  const nonAscii = engine === 'postgres' ? sql<boolean>`address ~ '[^ -~]'` : sql<boolean>`address GLOB '*[^ -~]*'`;
  return db
    .selectFrom('threepid_bindings')
    .select('address')
    .where('medium', '=', 'email')
    .where((eb) => eb.or([eb(sql`lower(address)`, 'like', '%xn--%'), eb(nonAscii, '=', sql<boolean>`true`)]))
    .execute();
}

/**
 * The stored address with its domain in today's spelling. Only the domain:
 * the local part was folded and mailed as stored, so the stored local part
 * names the mailbox that proved itself (re-folding `ivan` to `ıvan` would
 * name another one).
 */
function respelled(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  try {
    return `${address.slice(0, at)}@${canonicaliseDomain(address.slice(at + 1))}`;
  } catch {
    return undefined;
  }
}

async function rewriteAll(db: Kysely<Database>, engine: Engine): Promise<DomainRewriteCounts> {
  const counts: DomainRewriteCounts = { rewritten: 0, collisions: 0, unmappable: 0 };
  for (const { address } of await candidates(db, engine)) {
    const target = respelled(address);
    if (target === undefined) {
      counts.unmappable += 1;
      continue;
    }
    if (target === address) continue;
    // One statement, so a concurrent identical rewrite on SQLite finds the row gone, not a duplicate key.
    const result = await db
      .updateTable('threepid_bindings')
      .set({ address: target })
      .where('medium', '=', 'email')
      .where('address', '=', address)
      .where((eb) =>
        eb.not(eb.exists(eb.selectFrom('threepid_bindings as other').select('other.address').where('other.medium', '=', 'email').where('other.address', '=', target))),
      )
      .executeTakeFirst();
    if (result.numUpdatedRows > 0n) {
      counts.rewritten += 1;
      continue;
    }
    const stillThere = await db.selectFrom('threepid_bindings').select('address').where('medium', '=', 'email').where('address', '=', address).executeTakeFirst();
    if (stillThere) counts.collisions += 1;
  }
  return counts;
}

/**
 * Respells the domains of email bindings stored by earlier versions, once
 * at start, after the migrations: a punycode domain and its Unicode form are
 * one mailbox, so the binding keeps its owner under the spelling lookups
 * use. Where that spelling is already another binding, both are left and
 * a warning gives the count. Idempotent; on PostgreSQL replicas take turns
 * under an advisory lock, and the later one finds nothing left to do.
 */
export async function rewriteOldEmailDomains(db: Kysely<Database>, engine: Engine, logger: Logger): Promise<DomainRewriteCounts> {
  const counts =
    engine === 'postgres'
      ? await db.transaction().execute(async (trx) => {
          await sql`SELECT pg_advisory_xact_lock(${REWRITE_LOCK_KEY})`.execute(trx);
          return rewriteAll(trx, engine);
        })
      : await rewriteAll(db, engine);
  if (counts.rewritten > 0) logger.info({ rewritten: counts.rewritten }, 'email bindings stored with an older spelling of their domain were respelled');
  if (counts.collisions > 0) {
    logger.warn({ collisions: counts.collisions }, 'email bindings whose respelled domain names an address bound already were left as stored: both rows kept');
  }
  if (counts.unmappable > 0) logger.warn({ unmappable: counts.unmappable }, 'email bindings whose stored domain no longer maps were left as stored');
  return counts;
}
