import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { databaseNow, type Claim, type SentRecords } from './claims';
import type { Engine } from './engine';
import { QueryCache, slot } from './precompiled';
import type { Database } from './schema';
import { UnreadablePayload, type PayloadSealer } from './sealing';

export type { Channel } from '../model';
export type { Claim, SentRecords } from './claims';
import type { Outbox } from '../threepid/ports';
import type { Channel } from '../model';

/** The status of a decoy's message: written like a message, never sent. */
const DECOY = 'decoy';

/** A message claimed for delivery. `payload` is the JSON written at enqueue time. */
export interface OutboxMessage {
  readonly id: string;
  readonly channel: Channel;
  /** The token of the claim that holds it: outcomes are written under it. */
  readonly claim: string;
  /** Undefined when the stored payload cannot be opened (see `unreadable`). */
  readonly payload: unknown;
  /** Why the payload cannot be opened (its key is not in the keyring…): the message must not be sent. */
  readonly unreadable?: string;
  /** Deliveries tried before this one. */
  readonly attempts: number;
  readonly createdAt: number;
}

type ClaimedRow = { id: string; channel: string; payload: string | null; attempts: number; created_at: number };

/** Counts for the operator's view. */
export interface OutboxStats {
  readonly pending: number;
  readonly failed: number;
  readonly sent: number;
  readonly oldestPendingCreatedAt: number | null;
}

/**
 * Outbox storage: enqueue with a session, claim, and record the outcome.
 * Payloads are sealed by `sealer` before they are written and opened when
 * they are claimed: the database never holds a token or a code in clear.
 */
export class OutboxStore implements Outbox {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: Engine,
    private readonly sealer: PayloadSealer,
    private readonly queries: QueryCache = new QueryCache(db),
  ) {}

  /** A decoy's message is written as a real one is, and finished from the start: nothing claims, counts or sends it. */
  async enqueue(message: { id: string; channel: Channel; payload: unknown; now: number; decoy?: boolean }): Promise<void> {
    const query = this.queries.get('enqueue', (db) =>
      db.insertInto('threepid_outbox').values({
        id: slot('id'), channel: slot('channel'), payload: slot('payload'), status: slot('status'),
        created_at: slot('now'), next_attempt_at: slot('now'), last_error: null, finished_at: slot('finishedAt'),
      }),
    );
    const payload = this.sealer.seal(message.id, JSON.stringify(message.payload));
    const { id, channel, now, decoy } = message;
    await this.db.executeQuery(query.bind({ id, channel, payload, now, status: decoy ? DECOY : 'pending', finishedAt: decoy ? now : null }));
  }

  /**
   * Claims up to `limit` due messages of `channel` for `leaseMs` of the
   * database's clock (a process's clock may be stepped; the replicas share
   * the database's): nobody else picks them up before then, and if this
   * process dies they become due again. `token` names this claim: only it
   * can record the messages' outcome. `now` (the process's clock) says which
   * messages are due, as it did when they were written.
   */
  async claimDue(claim: { channel: Channel; now: number; limit: number; leaseMs: number; token: string }): Promise<OutboxMessage[]> {
    // Built once: the worker claims after every few messages.
    const due = this.queries.get('claimDue', (db) => {
      const query = db.selectFrom('threepid_outbox').select(['id', 'channel', 'payload', 'attempts', 'created_at']).where('status', '=', 'pending');
      const dueNow = query.where('channel', '=', slot('channel')).where('next_attempt_at', '<=', slot('now')).where('locked_until', '<=', databaseNow(this.engine));
      const ordered = dueNow.orderBy('next_attempt_at').limit(slot('limit'));
      // Replicas claiming at once each take different rows instead of waiting
      // on each other. SQLite has one writer at a time and needs no lock hint.
      return this.engine === 'postgres' ? ordered.forUpdate().skipLocked() : ordered;
    });
    return this.db.transaction().execute(async (trx) => {
      const { rows } = await trx.executeQuery<ClaimedRow>(due.bind(claim));
      if (rows.length === 0) return [];
      const lease = this.queries.get(`lease/${rows.length}`, (db) =>
        db
          .updateTable('threepid_outbox')
          .set({ locked_until: sql<number>`${databaseNow(this.engine)} + ${slot('leaseMs')}`, claim_token: slot('token') })
          .where('id', 'in', rows.map((_, index) => slot('ids', index))),
      );
      await trx.executeQuery(lease.bind({ ...claim, ids: rows.map((row) => row.id) }));
      return rows.map((row) => this.opened(row, claim.token));
    });
  }

  private opened(row: ClaimedRow, claim: string): OutboxMessage {
    let payload: unknown;
    let unreadable: string | undefined;
    try {
      if (row.payload === null) throw new UnreadablePayload('payload is missing');
      payload = JSON.parse(this.sealer.open(row.id, row.payload)) as unknown;
    } catch (err) {
      unreadable = err instanceof UnreadablePayload ? err.message : 'payload is not valid JSON';
    }
    return Object.freeze({
      id: row.id,
      channel: row.channel as Channel,
      claim,
      payload,
      ...(unreadable === undefined ? {} : { unreadable }),
      attempts: Number(row.attempts),
      createdAt: Number(row.created_at),
    });
  }

  /**
   * Seals pending payloads written in clear before sealing existed (run at
   * start); answers how many. A row whose payload is already sealed is left
   * as it is, whichever key sealed it.
   */
  async sealClearPayloads(): Promise<number> {
    const rows = await this.db
      .selectFrom('threepid_outbox')
      .select(['id', 'payload'])
      .where('status', '=', 'pending')
      .where('payload', 'like', '{%')
      .execute();
    for (const row of rows) {
      if (row.payload === null) continue;
      await this.db
        .updateTable('threepid_outbox')
        .set({ payload: this.sealer.seal(row.id, row.payload) })
        .where('id', '=', row.id)
        .where('payload', '=', row.payload)
        .execute();
    }
    return rows.length;
  }

  /** Makes every pending message due at `now` (an operator's "retry now" after an outage). */
  async makePendingDue(now: number): Promise<void> {
    await this.db
      .updateTable('threepid_outbox')
      .set({ next_attempt_at: now })
      .where('status', '=', 'pending')
      .where('next_attempt_at', '>', now)
      .execute();
  }

  /** Messages of `channel` enqueued since `since`, sent or not (decoys are not messages), and the oldest of them. */
  async countCreatedSince(channel: Channel, since: number): Promise<{ count: number; oldestCreatedAt: number | null }> {
    const row = await this.db
      .selectFrom('threepid_outbox')
      .select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')])
      .where('channel', '=', channel)
      .where('created_at', '>=', since)
      .where('status', '!=', DECOY)
      .executeTakeFirst();
    return { count: Number(row?.count ?? 0), oldestCreatedAt: row?.oldest == null ? null : Number(row.oldest) };
  }

  /**
   * How long until the next pending message of `channel` can be claimed (0:
   * now), or null when none is pending. Its backoff is in the process's clock (`now`), a
   * lease in the database's.
   */
  async nextDueIn(channel: Channel, now: number): Promise<number | null> {
    // A message another replica has claimed is due again only when its lease
    // ends; counting it as due now would make this worker spin until then.
    const leaseLeft = sql<number>`locked_until - ${databaseNow(this.engine)}`;
    const backoffLeft = sql<number>`next_attempt_at - ${now}`;
    const row = await this.db
      .selectFrom('threepid_outbox')
      .select(sql<number | string | null>`min(case when ${leaseLeft} > ${backoffLeft} then ${leaseLeft} else ${backoffLeft} end)`.as('due'))
      .where('status', '=', 'pending')
      .where('channel', '=', channel)
      .executeTakeFirst();
    return row?.due == null ? null : Math.max(0, Number(row.due));
  }

  /**
   * Delivered: the payload (which holds the token) is cleared. One statement
   * for all of `claims`, each written only while its claim still holds the
   * message. A message whose lease ran out was sent all the same: it is
   * recorded sent if it is still pending, so that no replica sends it again,
   * and reported as `alreadyFinished` if another claim recorded it first.
   */
  async markSent(claims: readonly Claim[], now: number): Promise<SentRecords> {
    if (claims.length === 0) return { held: [], withoutLease: [], alreadyFinished: [] };
    type Columns = ExpressionBuilder<Database, 'threepid_outbox'>;
    const sent = (eb: Columns, finishedAt: number) => ({ status: 'sent', payload: null, attempts: eb('attempts', '+', 1), finished_at: finishedAt, last_error: null });
    // Built once per number of claims (the worker's batches are small).
    const markHeld = this.queries.get(`markSent/${claims.length}`, (db) =>
      db
        .updateTable('threepid_outbox')
        .set((eb) => sent(eb, slot('now')))
        .where('status', '=', 'pending')
        .where((eb) => eb.or(claims.map((_, n) => eb.and([eb('id', '=', slot('ids', n)), eb('claim_token', '=', slot('tokens', n))]))))
        .returning('id'),
    );
    const values = { now, ids: claims.map((claim) => claim.id), tokens: claims.map((claim) => claim.token) };
    const { rows: held } = await this.db.executeQuery<{ id: string }>(markHeld.bind(values));
    const heldIds = new Set(held.map((row) => row.id));
    const lost = claims.filter((claim) => !heldIds.has(claim.id));
    if (lost.length === 0) return { held: [...heldIds], withoutLease: [], alreadyFinished: [] };
    // Rare: a lease ran out, or an earlier try of this write committed unanswered.
    const rows = await this.db.selectFrom('threepid_outbox').select(['id', 'status', 'claim_token']).where('id', 'in', lost.map((claim) => claim.id)).execute();
    const withoutLease: string[] = [];
    const alreadyFinished: string[] = [];
    for (const claim of lost) {
      const row = rows.find((found) => found.id === claim.id);
      if (row?.status === 'sent' && row.claim_token === claim.token) heldIds.add(claim.id);
      else if (row?.status === 'pending') withoutLease.push(claim.id);
      else alreadyFinished.push(claim.id);
    }
    // The row is recorded under the claim that recovers it: a "sent" from the
    // claim that held it, when it comes, then finds it finished by another.
    const recovered: string[] = [];
    for (const claim of lost.filter((each) => withoutLease.includes(each.id))) {
      const set = (eb: Columns) => ({ ...sent(eb, now), claim_token: claim.token });
      const row = await this.db.updateTable('threepid_outbox').set(set).where('id', '=', claim.id).where('status', '=', 'pending').returning('id').executeTakeFirst();
      // Finished by another claim between the two statements.
      (row ? recovered : alreadyFinished).push(claim.id);
    }
    return { held: [...heldIds], withoutLease: recovered, alreadyFinished };
  }

  /** A temporary failure: try again at `nextAttemptAt`. False when `claim` no longer holds the message (nothing written). */
  async reschedule(claim: Claim, nextAttemptAt: number, error: string): Promise<boolean> {
    const result = await this.db
      .updateTable('threepid_outbox')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        next_attempt_at: nextAttemptAt,
        locked_until: 0,
        claim_token: null,
        last_error: error,
      }))
      .where('id', '=', claim.id)
      .where('claim_token', '=', claim.token)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Given up on: kept, without its payload, for the operator to see. False when `claim` no longer holds the message. */
  async markFailed(claim: Claim, now: number, error: string): Promise<boolean> {
    const result = await this.db
      .updateTable('threepid_outbox')
      .set((eb) => ({
        status: 'failed',
        payload: null,
        attempts: eb('attempts', '+', 1),
        finished_at: now,
        last_error: error,
      }))
      .where('id', '=', claim.id)
      .where('claim_token', '=', claim.token)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Deletes finished (sent or failed) messages older than `before`, and every decoy: nobody needs to see one. */
  async deleteFinishedBefore(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom('threepid_outbox')
      .where((eb) => eb.or([eb('status', '=', DECOY), eb.and([eb('status', '!=', 'pending'), eb('finished_at', '<', before)])]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Messages given up on at or after `since` (the process's clock, as written), counted off the (status, finished_at) index. */
  async countFailedSince(since: number): Promise<number> {
    const count = this.db.selectFrom('threepid_outbox').select((eb) => eb.fn.countAll<number>().as('count'));
    return Number((await count.where('status', '=', 'failed').where('finished_at', '>=', since).executeTakeFirst())?.count ?? 0);
  }

  /** Messages waiting and when the oldest was queued, found by status (`stats` reads every row the purge keeps). */
  async pendingStats(): Promise<Pick<OutboxStats, 'pending' | 'oldestPendingCreatedAt'>> {
    const query = this.db.selectFrom('threepid_outbox').select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')]);
    const row = await query.where('status', '=', 'pending').executeTakeFirst();
    return { pending: Number(row?.count ?? 0), oldestPendingCreatedAt: row?.oldest == null ? null : Number(row.oldest) };
  }

  async stats(): Promise<OutboxStats> {
    const query = this.db.selectFrom('threepid_outbox').select((eb) => ['status', eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')]);
    const rows = await query.groupBy('status').execute();
    const count = (status: string) => Number(rows.find((row) => row.status === status)?.count ?? 0);
    const oldest = rows.find((row) => row.status === 'pending')?.oldest;
    return { pending: count('pending'), failed: count('failed'), sent: count('sent'), oldestPendingCreatedAt: oldest == null ? null : Number(oldest) };
  }
}
