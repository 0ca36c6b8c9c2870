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
 * Kysely's SQLite dialect, with three changes:
 *
 * - Transactions begin `IMMEDIATE`. A deferred transaction reads first and
 *   upgrades to a writer later, and SQLite fails that upgrade at once with
 *   SQLITE_BUSY when another connection writes (waiting could deadlock), so
 *   the busy timeout never applied.
 * - The wait for the write lock happens here, between tries, instead of in
 *   SQLite's busy handler, which would block the event loop (and `/health`)
 *   for as long as the lock is held.
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
  constructor(
    settings: SqliteDialectConfig,
    private readonly sqlite: BetterSqlite3.Database,
    private readonly guards: SqliteGuards,
  ) {
    super(settings);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    return new GuardedConnection(await super.acquireConnection(), this.sqlite, this.guards);
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.sqlite.inTransaction) await super.rollbackTransaction(connection);
  }
}

class GuardedConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly sqlite: BetterSqlite3.Database,
    private readonly guards: SqliteGuards,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = performance.now() + this.guards.busyTimeoutMs;
    let pause = FIRST_PAUSE_MS;
    for (let waiting = false; ; ) {
      try {
        const result = await this.inner.executeQuery<R>(query);
        // A write outside a transaction, or a commit: it reached the file.
        const wrote = result.numAffectedRows !== undefined && !this.sqlite.inTransaction && !/^rollback/i.test(query.sql);
        if (wrote) this.guards.health.succeeded();
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
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
        pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
      }
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}
