import type { Kysely } from 'kysely';
import type { Engine } from './migrations';
import type { Database } from './schema';
import { UnreadablePayload, type PayloadSealer } from './sealing';

export type { Channel } from '../model';
import type { Outbox } from '../threepid/ports';
import type { Channel } from '../model';

/** A message claimed for delivery. `payload` is the JSON written at enqueue time. */
export interface OutboxMessage {
  readonly id: string;
  readonly channel: Channel;
  /** Undefined when the stored payload cannot be opened (see `unreadable`). */
  readonly payload: unknown;
  /** Why the payload cannot be opened (its key is not in the keyring…): the message must not be sent. */
  readonly unreadable?: string;
  /** Deliveries tried before this one. */
  readonly attempts: number;
  readonly createdAt: number;
}

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
  ) {}

  async enqueue(message: { id: string; channel: Channel; payload: unknown; now: number }): Promise<void> {
    await this.db
      .insertInto('threepid_outbox')
      .values({
        id: message.id,
        channel: message.channel,
        payload: this.sealer.seal(message.id, JSON.stringify(message.payload)),
        status: 'pending',
        created_at: message.now,
        next_attempt_at: message.now,
        last_error: null,
        finished_at: null,
      })
      .execute();
  }

  /**
   * Claims up to `limit` due messages until `leaseUntil`: nobody else picks
   * them up before then, and if this process dies they become due again.
   */
  async claimDue(now: number, limit: number, leaseUntil: number): Promise<OutboxMessage[]> {
    return this.db.transaction().execute(async (trx) => {
      let query = trx
        .selectFrom('threepid_outbox')
        .select(['id', 'channel', 'payload', 'attempts', 'created_at'])
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where('locked_until', '<=', now)
        .orderBy('next_attempt_at')
        .limit(limit);
      // Replicas claiming at once each take different rows instead of waiting
      // on each other. SQLite has one writer at a time and needs no lock hint.
      if (this.engine === 'postgres') query = query.forUpdate().skipLocked();
      const rows = await query.execute();
      if (rows.length === 0) return [];
      await trx
        .updateTable('threepid_outbox')
        .set({ locked_until: leaseUntil })
        .where(
          'id',
          'in',
          rows.map((row) => row.id),
        )
        .execute();
      return rows.map((row) => {
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
          payload,
          ...(unreadable === undefined ? {} : { unreadable }),
          attempts: Number(row.attempts),
          createdAt: Number(row.created_at),
        });
      });
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

  /** Messages of `channel` enqueued since `since`, sent or not, and the oldest of them. */
  async countCreatedSince(channel: Channel, since: number): Promise<{ count: number; oldestCreatedAt: number | null }> {
    const row = await this.db
      .selectFrom('threepid_outbox')
      .select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')])
      .where('channel', '=', channel)
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return { count: Number(row?.count ?? 0), oldestCreatedAt: row?.oldest == null ? null : Number(row.oldest) };
  }

  /** When the next pending message can be claimed, or null when none is pending. */
  async nextDueAt(): Promise<number | null> {
    // A message another replica has claimed is due again only when its lease
    // ends; counting it as due now would make this worker spin until then.
    const row = await this.db
      .selectFrom('threepid_outbox')
      .select((eb) =>
        eb.fn
          .min(
            eb
              .case()
              .when('locked_until', '>', eb.ref('next_attempt_at'))
              .then(eb.ref('locked_until'))
              .else(eb.ref('next_attempt_at'))
              .end(),
          )
          .as('due'),
      )
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return row?.due == null ? null : Number(row.due);
  }

  /** Delivered: the payload (which holds the token) is cleared. One statement for all of `ids`. */
  async markSent(ids: readonly string[], now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('threepid_outbox')
      .set((eb) => ({
        status: 'sent',
        payload: null,
        attempts: eb('attempts', '+', 1),
        finished_at: now,
        last_error: null,
      }))
      .where('id', 'in', ids)
      .execute();
  }

  /** A temporary failure: try again at `nextAttemptAt`. */
  async reschedule(id: string, nextAttemptAt: number, error: string): Promise<void> {
    await this.db
      .updateTable('threepid_outbox')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        next_attempt_at: nextAttemptAt,
        locked_until: 0,
        last_error: error,
      }))
      .where('id', '=', id)
      .execute();
  }

  /** Given up on: kept, without its payload, for the operator to see. */
  async markFailed(id: string, now: number, error: string): Promise<void> {
    await this.db
      .updateTable('threepid_outbox')
      .set((eb) => ({
        status: 'failed',
        payload: null,
        attempts: eb('attempts', '+', 1),
        finished_at: now,
        last_error: error,
      }))
      .where('id', '=', id)
      .execute();
  }

  /** Deletes finished (sent or failed) messages older than `before`. */
  async deleteFinishedBefore(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom('threepid_outbox')
      .where('status', '!=', 'pending')
      .where('finished_at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async stats(): Promise<OutboxStats> {
    const rows = await this.db
      .selectFrom('threepid_outbox')
      .select((eb) => ['status', eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')])
      .groupBy('status')
      .execute();
    const count = (status: string) => Number(rows.find((row) => row.status === status)?.count ?? 0);
    const oldest = rows.find((row) => row.status === 'pending')?.oldest;
    return {
      pending: count('pending'),
      failed: count('failed'),
      sent: count('sent'),
      oldestPendingCreatedAt: oldest == null ? null : Number(oldest),
    };
  }
}
