import type { ExpressionBuilder, Kysely, QueryResult, Selectable } from 'kysely';
import { QueryCache, slot } from './precompiled';
import type { Database, ThreepidSessionsTable } from './schema';

export { DELEGATED } from '../model';
export type { Flow, Medium, SessionFlow, SessionRecord } from '../model';
import type { Medium, SessionFlow, SessionRecord } from '../model';
import type { NewSession, OpenSessionKey, SessionRepository } from '../threepid/ports';

function toRecord(row: Selectable<ThreepidSessionsTable>): SessionRecord {
  return Object.freeze({
    sid: row.sid,
    clientSecretHash: row.client_secret_hash,
    medium: row.medium as Medium,
    address: row.address,
    flow: row.flow as SessionFlow,
    nextLink: row.next_link,
    sendAttempt: Number(row.send_attempt),
    tokenHash: row.token_hash,
    failedAttempts: Number(row.failed_attempts),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    validatedAt: row.validated_at === null ? null : Number(row.validated_at),
    consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
    idServer: row.id_server ?? null,
    language: row.language ?? null,
    refused: Number(row.refused ?? 0) === 1,
  });
}

/**
 * The sessions not yet validated for a secret (any of its `forms` stored
 * forms), address and flow, that this server runs itself; the values are
 * slots, filled in by {@link openSessionValues}.
 */
function openSessionsOf(forms: number) {
  return (eb: ExpressionBuilder<Database, 'threepid_sessions'>) =>
    eb.and([
      eb('client_secret_hash', 'in', Array.from({ length: forms }, (_, index) => slot('hashes', index))),
      eb('medium', '=', slot('medium')),
      eb('address', '=', slot('address')),
      eb('flow', '=', slot('flow')),
      eb('validated_at', 'is', null),
      // A session an identity server runs is never continued as our own.
      eb('id_server', 'is', null),
    ]);
}

function openSessionValues(key: OpenSessionKey, time: number) {
  return { hashes: key.clientSecretHashes, medium: key.medium, address: key.address, flow: key.flow, time };
}

type SessionRow = Selectable<ThreepidSessionsTable>;

/**
 * Session storage. Holds no rules: callers decide, this reads and writes.
 * What every request runs is built once (see `precompiled.ts`).
 */
export class SessionStore implements SessionRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly queries: QueryCache = new QueryCache(db),
  ) {}

  /** The newest session not yet validated for this secret (any of its stored forms), address and flow, made at `createdSince` or later. */
  async findOpenSession(key: OpenSessionKey & { createdSince: number }): Promise<SessionRecord | undefined> {
    const forms = key.clientSecretHashes.length;
    // The unique index on open sessions holds one per stored form of the
    // secret at most, so the newest is picked here: SQLite's ORDER BY over
    // those few rows set up a sorter that cost more than the lookup itself.
    const query = this.queries.get(`findOpenSession/${forms}`, (db) =>
      db.selectFrom('threepid_sessions').selectAll().where(openSessionsOf(forms)).where('created_at', '>=', slot('time')),
    );
    const { rows } = await this.db.executeQuery<SessionRow>(query.bind(openSessionValues(key, key.createdSince)));
    const newest = rows.reduce<SessionRow | undefined>((found, row) => (found && Number(found.created_at) >= Number(row.created_at) ? found : row), undefined);
    return newest && toRecord(newest);
  }

  /** Deletes the sessions not yet validated for this secret, address and flow that were made before `before`. */
  async deleteOpenSessionsCreatedBefore(key: OpenSessionKey, before: number): Promise<void> {
    const forms = key.clientSecretHashes.length;
    const query = this.queries.get(`deleteOpenSessionsCreatedBefore/${forms}`, (db) =>
      db.deleteFrom('threepid_sessions').where(openSessionsOf(forms)).where('created_at', '<', slot('time')),
    );
    await this.db.executeQuery(query.bind(openSessionValues(key, before)));
  }

  async getSession(sid: string): Promise<SessionRecord | undefined> {
    const query = this.queries.get('getSession', (db) => db.selectFrom('threepid_sessions').selectAll().where('sid', '=', slot('sid')));
    const { rows } = await this.db.executeQuery<SessionRow>(query.bind({ sid }));
    return rows[0] && toRecord(rows[0]);
  }

  async insertSession(session: NewSession): Promise<'inserted' | 'conflict'> {
    try {
      await this.insertRow(session);
      return 'inserted';
    } catch (err) {
      // Another request opened the same session first (the unique index on
      // open sessions). In a transaction on PostgreSQL, the transaction is
      // now aborted: the caller must roll it back.
      if (isUniqueViolation(err)) return 'conflict';
      throw err;
    }
  }

  private async insertRow(session: NewSession): Promise<void> {
    const query = this.queries.get('insertSession', (db) =>
      db.insertInto('threepid_sessions').values({
        sid: slot('sid'),
        client_secret_hash: slot('clientSecretHash'),
        medium: slot('medium'),
        address: slot('address'),
        flow: slot('flow'),
        next_link: slot('nextLink'),
        send_attempt: slot('sendAttempt'),
        token_hash: slot('tokenHash'),
        created_at: slot('createdAt'),
        expires_at: slot('expiresAt'),
        validated_at: null,
        consumed_at: null,
        id_server: slot('idServer'),
        language: slot('language'),
        refused: slot('refused'),
      }),
    );
    const { nextLink, idServer, language, refused } = session;
    const optional = { nextLink: nextLink ?? null, idServer: idServer ?? null, language: language ?? null, refused: refused ? 1 : 0 };
    await this.db.executeQuery(query.bind({ ...session, ...optional }));
  }

  /**
   * A new token for a higher `send_attempt`. False when the session already
   * has that attempt or a higher one, or was validated: a parallel request
   * got there first.
   */
  async replaceToken(
    sid: string,
    update: { tokenHash: string; sendAttempt: number; expiresAt: number; nextLink: string | null; language?: string | null },
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('threepid_sessions')
      .set({
        token_hash: update.tokenHash,
        send_attempt: update.sendAttempt,
        expires_at: update.expiresAt,
        next_link: update.nextLink,
        // The newest message's language: the page its link opens speaks it.
        ...(update.language === undefined ? {} : { language: update.language }),
        failed_attempts: 0,
      })
      .where('sid', '=', sid)
      .where('send_attempt', '<', update.sendAttempt)
      // Validated meanwhile: no longer an open session to send a token for.
      .where('validated_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Counts one token check against the session, atomically: false when
   * `max` checks were already made. Counting before comparing means parallel
   * guesses cannot all pass a limit read before any of them was counted.
   */
  async reserveTokenAttempt(sid: string, max: number): Promise<boolean> {
    const query = this.queries.get('reserveTokenAttempt', (db) =>
      db
        .updateTable('threepid_sessions')
        .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
        .where('sid', '=', slot('sid'))
        .where('failed_attempts', '<', slot('max')),
    );
    return changedRows(await this.db.executeQuery(query.bind({ sid, max })));
  }

  /**
   * The right token: counts the check and marks the session validated in one
   * statement, under the same limit as {@link reserveTokenAttempt}. False
   * when the limit was reached or the session is validated already.
   */
  async validateWithinAttempts(
    sid: string,
    tokenHash: string,
    max: number,
    validatedAt: number,
    expiresAt: number,
  ): Promise<boolean> {
    const query = this.queries.get('validateWithinAttempts', (db) =>
      db
        .updateTable('threepid_sessions')
        .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1), validated_at: slot('validatedAt'), expires_at: slot('expiresAt') }))
        .where('sid', '=', slot('sid'))
        // The token checked is still the session's, and still alive: a parallel
        // request for a new token (or expiry) between the read and this write wins.
        .where('token_hash', '=', slot('tokenHash'))
        .where('expires_at', '>=', slot('validatedAt'))
        .where('failed_attempts', '<', slot('max'))
        .where('validated_at', 'is', null),
    );
    return changedRows(await this.db.executeQuery(query.bind({ sid, tokenHash, max, validatedAt, expiresAt })));
  }

  /**
   * Records a session an identity server runs. One known already is kept,
   * unless it is a refused request's: the identity server gives the same sid
   * to the same client_secret and address, and the session is then the
   * latest request's, to spend as its flow allows.
   */
  async recordProxiedSession(session: NewSession & { idServer: string }): Promise<void> {
    const existing = await this.getSession(session.sid);
    if (existing ? !existing.refused : (await this.insertSession(session)) === 'inserted') return;
    await this.db
      .updateTable('threepid_sessions')
      .set({ flow: session.flow, client_secret_hash: session.clientSecretHash, refused: session.refused ? 1 : 0 })
      .where('sid', '=', session.sid)
      // Lost to a parallel allowed request: that one's session stays.
      .where('refused', '=', 1)
      .execute();
  }

  /** Marks the session validated; a no-op when it already was. */
  async markSessionValidated(sid: string, validatedAt: number, expiresAt: number): Promise<void> {
    await this.db
      .updateTable('threepid_sessions')
      .set({ validated_at: validatedAt, expires_at: expiresAt })
      .where('sid', '=', sid)
      .where('validated_at', 'is', null)
      .execute();
  }

  /** Brings the session's expiry forward to `latest`; a no-op when it ends sooner. */
  async capExpiry(sid: string, latest: number): Promise<void> {
    await this.db.updateTable('threepid_sessions').set({ expires_at: latest }).where('sid', '=', sid).where('expires_at', '>', latest).execute();
  }

  /** Spends a validated session. False when it was already spent (a race lost). */
  async markSessionConsumed(sid: string, consumedAt: number): Promise<boolean> {
    const result = await this.db
      .updateTable('threepid_sessions')
      .set({ consumed_at: consumedAt })
      .where('sid', '=', sid)
      .where('consumed_at', 'is', null)
      .where('validated_at', 'is not', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Deletes sessions that expired before `before`. Returns how many, by medium and flow. */
  async deleteSessionsExpiredBefore(before: number): Promise<Array<{ medium: Medium; flow: SessionFlow; count: number }>> {
    const rows = await this.db
      .deleteFrom('threepid_sessions')
      .where('expires_at', '<', before)
      .returning(['medium', 'flow'])
      .execute();
    const counts = new Map<string, { medium: Medium; flow: SessionFlow; count: number }>();
    for (const row of rows) {
      const key = `${row.medium}/${row.flow}`;
      const entry = counts.get(key) ?? { medium: row.medium as Medium, flow: row.flow as SessionFlow, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
    return [...counts.values()];
  }
}

/** Whether an UPDATE changed a row. */
function changedRows(result: QueryResult<unknown>): boolean {
  return (result.numAffectedRows ?? 0n) > 0n;
}

/**
 * True for a broken unique constraint (SQLite's SQLITE_CONSTRAINT_UNIQUE or
 * PostgreSQL's 23505): on sessions, another request opened the same one first.
 */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
