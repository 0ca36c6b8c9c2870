import { performance } from 'node:perf_hooks';
import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDialectConfig,
} from 'kysely';
import { StoreUnavailable } from '../model';
import { asStoreError } from './unavailable';
import type { WriteHealth } from './write-health';

export interface SqliteGuards {
  /** How long a write waits for another connection's write lock before the request fails. */
  readonly busyTimeoutMs: number;
  readonly health: WriteHealth;
  /** Told once per write that finds the lock held and starts waiting. */
  onWaitingForLock(): void;
}

/** Pauses between tries for the write lock: short at first, never long. */
const FIRST_PAUSE_MS = 2;
const LONGEST_PAUSE_MS = 50;

/**
 * Kysely's SQLite dialect, with these changes:
 *
 * - Transactions begin `IMMEDIATE`. A deferred transaction reads first and
 *   upgrades to a writer later, and SQLite fails that upgrade at once with
 *   SQLITE_BUSY when another connection writes (waiting could deadlock), so
 *   the busy timeout never applied.
 * - The wait for the write lock happens here, between tries, instead of in
 *   SQLite's busy handler, which would block the event loop (and `/health`)
 *   for as long as the lock is held. It counts from when the query was
 *   issued, and lets go of the single connection between tries: requests
 *   queued behind a locked database each answer within the busy timeout of
 *   their own arrival, and reads (`/ready`) do not wait behind them.
 * - A rollback after SQLite already rolled back (it does on SQLITE_FULL)
 *   is skipped: its "no transaction is active" replaced the real error.
 *
 * Driver errors that mean the database cannot serve (busy past the timeout,
 * full, I/O) leave as {@link StoreUnavailable}.
 */
export class GuardedSqliteDialect extends SqliteDialect {
  constructor(
    private readonly settings: SqliteDialectConfig,
    private readonly sqlite: BetterSqlite3.Database,
    private readonly guards: SqliteGuards,
  ) {
    super(settings);
  }

  override createDriver(): Driver {
    return new GuardedSqliteDriver(this.settings, this.sqlite, this.guards);
  }
}

class GuardedSqliteDriver extends SqliteDriver {
  /** Rows changed on this connection since it opened, rolled back or not: a write shows as a rise. */
  private readonly changesSoFar: () => number;

  constructor(
    settings: SqliteDialectConfig,
    private readonly sqlite: BetterSqlite3.Database,
    private readonly guards: SqliteGuards,
  ) {
    super(settings);
    const totalChanges = sqlite.prepare('select total_changes()').pluck();
    this.changesSoFar = () => Number(totalChanges.get());
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    // A query's wait for the lock counts from here: the time it queued for the connection is part of it.
    const issuedAt = performance.now();
    const inner = await super.acquireConnection();
    const turn: ConnectionTurn = { letGo: () => super.releaseConnection(), takeBack: async () => void (await super.acquireConnection()) };
    return new GuardedConnection(inner, this.sqlite, this.guards, { issuedAt, turn, changesSoFar: this.changesSoFar });
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.sqlite.inTransaction) await super.rollbackTransaction(connection);
  }
}

/** Gives Kysely's single connection to others while a query waits for the write lock, and takes it back. */
interface ConnectionTurn {
  letGo(): Promise<void>;
  takeBack(): Promise<void>;
}

interface Acquisition {
  /** When the first query on this acquisition was issued. */
  readonly issuedAt: number;
  readonly turn: ConnectionTurn;
  readonly changesSoFar: () => number;
}

class GuardedConnection implements DatabaseConnection {
  private firstIssuedAt: number | undefined;
  /** Rows changed so far when the statement or transaction now running began; set only while a write failure is on record. */
  private changesBefore: number | undefined;

  constructor(
    private readonly inner: DatabaseConnection,
    private readonly sqlite: BetterSqlite3.Database,
    private readonly guards: SqliteGuards,
    private readonly acquisition: Acquisition,
  ) {
    this.firstIssuedAt = acquisition.issuedAt;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = (this.firstIssuedAt ?? performance.now()) + this.guards.busyTimeoutMs;
    this.firstIssuedAt = undefined;
    let pause = FIRST_PAUSE_MS;
    for (let waiting = false; ; ) {
      const startsOnItsOwn = !this.sqlite.inTransaction;
      // Counting changes costs a statement: only worth it while a failure waits to be cleared.
      if (startsOnItsOwn) this.changesBefore = this.guards.health.problem() === undefined ? undefined : this.acquisition.changesSoFar();
      try {
        const result = await this.inner.executeQuery<R>(query);
        this.noteSuccess(query, startsOnItsOwn);
        return result;
      } catch (err) {
        const error = asStoreError(err);
        // Only a statement that starts its own transaction failed with no
        // effect and can be tried again; inside one, the caller rolls back.
        const canWait = error instanceof StoreUnavailable && error.reason === 'busy' && !this.sqlite.inTransaction;
        const left = deadline - performance.now();
        if (!canWait || left <= 0) {
          this.guards.health.failed(error);
          throw error;
        }
        if (!waiting) this.guards.onWaitingForLock();
        waiting = true;
        // Outside a transaction nothing is lost by letting others use the
        // connection meanwhile: reads, and writers with their own deadlines.
        await this.acquisition.turn.letGo();
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
        await this.acquisition.turn.takeBack();
        pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
      }
    }
  }

  /**
   * A `BEGIN IMMEDIATE` that succeeds took the write lock; a statement or
   * commit that ends outside a transaction wrote only if rows changed since
   * it (or its transaction) began. better-sqlite3's `changes` is no guide:
   * COMMIT reports the last statement's count, `RETURNING` none at all.
   */
  private noteSuccess(query: CompiledQuery, startedOnItsOwn: boolean): void {
    if (startedOnItsOwn && this.sqlite.inTransaction) {
      if (/^\s*begin\s+immediate\b/i.test(query.sql)) this.guards.health.lockTaken();
      return;
    }
    if (this.sqlite.inTransaction || this.changesBefore === undefined || /^\s*rollback\b/i.test(query.sql)) return;
    if (this.acquisition.changesSoFar() > this.changesBefore) this.guards.health.wrote();
    this.changesBefore = undefined;
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}
