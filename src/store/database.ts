import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type KyselyConfig, type SqliteDatabase } from 'kysely';
import type { DatabaseSettings } from '../config';
import type { PostgresTimeouts } from './postgres-pool';
import { registerSqliteConnection } from './group-commit';
import { GuardedSqliteDialect } from './sqlite-driver';
import { WriteHealth } from './write-health';
import { silentLogger, type Logger } from '../logger';
import { existsSync } from 'node:fs';
import type { Engine } from './engine';
import { ThreepidError } from '../threepid/errors';
import { checkLogger, checkText } from '../threepid/public-arguments';
import { migrateToLatest, migrationCheck, SqlFileMigrationProvider } from './migrations';
import { WalCheckpointer } from './wal-checkpointer';
import { BackgroundThread } from '../background-thread';
import type { Database } from './schema';

/** A database handle, and which engine is behind it (for the few places SQL differs). */
export interface OpenDatabase {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  /** Whether writes succeed lately (absent for a database the host passed in). */
  readonly health?: WriteHealth;
}

async function migrated(db: Kysely<Database>, engine: Engine, health?: WriteHealth): Promise<OpenDatabase> {
  try {
    await migrateToLatest(db, engine);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, engine, health };
}

/** How long a SQLite write waits for another connection's write lock, unless configured. */
const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creating if needed) the SQLite database at `file`, in WAL mode, and
 * brings its schema up to date. `:memory:` works for throwaway use.
 */
export async function openSqliteDatabase(file: string): Promise<Kysely<Database>> {
  checkText(file, 'file');
  return (await openSqlite(file)).db;
}

/** pg and its pool: loaded only for PostgreSQL, so a SQLite start does not pay for them. */
function postgres(): typeof import('./postgres-pool') & { Pool: typeof import('pg').Pool } {
  return { ...(require('./postgres-pool') as typeof import('./postgres-pool')), Pool: (require('pg') as typeof import('pg')).Pool };
}

async function openSqlite(
  file: string,
  logger: Logger = silentLogger,
  busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
  thread: BackgroundThread | undefined = BackgroundThread.create(),
): Promise<OpenDatabase> {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  try {
    sqlite.pragma('journal_mode = WAL');
    // With WAL, NORMAL survives a crash of the process; a power loss can drop
    // the last commits, but a session and its outbox message always go together.
    sqlite.pragma('synchronous = NORMAL');
    // No wait inside SQLite, which would block the event loop: the dialect
    // waits for the write lock between tries (sqlite-driver.ts).
    sqlite.pragma('busy_timeout = 0');
    // 2 MiB of page cache (SQLite's default size), measured: a requestToken's
    // write (look up the open session, insert it) cost 55-60 µs of CPU with
    // 1k sessions stored and 75-100 µs with 1M, whether the cache was 2, 4,
    // 8 or 16 MiB: the secret-hash index of 1M sessions outgrows any of
    // them, and its pages come from the OS's file cache. The extra ~25 µs is
    // ~2 % of a requestToken (1M at ~0.98x the rate at 1k); the 16 MiB cache
    // it replaces only added ~15 MB of RSS at 1M.
    sqlite.pragma('cache_size = -2048');
    sqlite.pragma('foreign_keys = ON');
    // Deleted and overwritten content (a cleared payload, a purged session)
    // is zeroed in the file instead of left in free space.
    sqlite.pragma('secure_delete = ON');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  // A file's checkpoints run on the background thread; an in-memory database has none to run.
  let checkpointer: WalCheckpointer | undefined;
  try {
    if (file !== ':memory:' && !thread) {
      logger.warn({}, 'dist/threads/background.js not found: SQLite checkpoints inside commits');
    }
    checkpointer =
      file !== ':memory:' && thread
        ? new WalCheckpointer(sqlite, path.resolve(file), {
            thread,
            onFallback: (reason, restartInMs) =>
              logger.error({ reason, restart_in_ms: restartInMs }, 'SQLite checkpoint thread died; SQLite checkpoints inside commits until it is restarted'),
            onRecovery: () => logger.info({}, 'SQLite checkpoint thread restarted; commits no longer checkpoint'),
          })
        : undefined;
  } catch (err) {
    sqlite.close();
    throw err;
  }
  // Kysely closes the driver without waiting for it: the thread is stopped
  // (awaited, without blocking the event loop) by destroy() before that.
  const database = withStatementCache(sqlite, () => void checkpointer?.stop());
  const health = new WriteHealth();
  const dialect = new GuardedSqliteDialect({ database }, sqlite, {
    busyTimeoutMs,
    health,
    onWaitingForLock: () => logger.warn({ busy_timeout_ms: busyTimeoutMs }, 'another connection holds the SQLite write lock; waiting for it'),
  });
  const db = new SqliteKysely({ dialect }, async () => checkpointer?.stop());
  registerSqliteConnection(db, () => sqlite.inTransaction);
  return migrated(db, 'sqlite', health);
}

/** A SQLite handle whose destroy() first waits for the checkpoint thread to let go of the file. */
class SqliteKysely extends Kysely<Database> {
  constructor(
    config: KyselyConfig,
    private readonly beforeClose: () => Promise<void>,
  ) {
    super(config);
  }

  override async destroy(): Promise<void> {
    await this.beforeClose();
    await super.destroy();
  }
}

/** Statements kept at most; queries with `in (?, …)` vary with their list's length. */
const STATEMENT_CACHE_SIZE = 1000;

/**
 * Kysely's SQLite driver prepares every query each time it runs; preparing
 * was a tenth of requestToken's CPU. Each distinct statement is prepared
 * once here (better-sqlite3 statements are reusable).
 */
function withStatementCache(sqlite: BetterSqlite3.Database, onClose: () => void): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      onClose();
      sqlite.close();
    },
    prepare(query: string) {
      let statement = statements.get(query);
      if (!statement) {
        statement = sqlite.prepare(query);
        if (statements.size < STATEMENT_CACHE_SIZE) statements.set(query, statement);
      }
      return statement;
    },
  };
}

/**
 * Opens a PostgreSQL database (several sidecar replicas share one) and
 * brings its schema up to date; Kysely's migrator holds an advisory lock
 * meanwhile, so replicas starting together migrate once.
 */
export async function openPostgresDatabase(url: string, maxConnections = 10): Promise<Kysely<Database>> {
  checkText(url, 'url');
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new ThreepidError('M_INVALID_PARAM', 'maxConnections must be a positive integer');
  return (await openPostgres(url, maxConnections)).db;
}

async function openPostgres(url: string, maxConnections: number, timeouts?: PostgresTimeouts, logger: Logger = silentLogger): Promise<OpenDatabase> {
  const { GuardedPostgresDialect, guardedPool } = postgres();
  // Migrations run on connections of their own, without the statement and
  // query timeouts: building an index on a large table may take minutes.
  const migrations = guardedPool(url, 2, timeouts && { ...timeouts, statementTimeoutMs: 0, queryTimeoutMs: 0 }, logger);
  const migrator = new Kysely<Database>({ dialect: new GuardedPostgresDialect({ pool: migrations.kyselyPool }) });
  try {
    await migrateToLatest(migrator, 'postgres');
  } finally {
    await migrator.destroy();
  }
  const health = new WriteHealth();
  const { kyselyPool } = guardedPool(url, maxConnections, timeouts, logger, health);
  return { db: new Kysely<Database>({ dialect: new GuardedPostgresDialect({ pool: kyselyPool }) }), engine: 'postgres', health };
}

/** Opens the database the config names. */
export function openDatabase(settings: DatabaseSettings, logger?: Logger): Promise<OpenDatabase> {
  return openDatabaseSharing(settings, logger, BackgroundThread.create());
}

/** As {@link openDatabase}, a SQLite file's checkpoints running on `thread` (the module's, shared with SMTP). */
export async function openDatabaseSharing(settings: DatabaseSettings, logger: Logger | undefined, thread: BackgroundThread | undefined): Promise<OpenDatabase> {
  const engine = (settings as { engine?: unknown } | null | undefined)?.engine;
  if (engine !== 'sqlite' && engine !== 'postgres') {
    throw new ThreepidError('M_INVALID_PARAM', "settings must be a config's database settings, with engine 'sqlite' or 'postgres'");
  }
  if (logger !== undefined) checkLogger(logger);
  checkText(engine === 'sqlite' ? settings.path : settings.url, engine === 'sqlite' ? 'settings.path' : 'settings.url');
  if (settings.engine === 'sqlite') return openSqlite(settings.path, logger, settings.busyTimeoutMs, thread);
  return openPostgres(settings.url, settings.maxConnections, settings.timeouts, logger);
}

/** What `--check` reports about the database. */
export interface MigrationStatus {
  /** false: a SQLite file not created yet (every migration is pending). */
  readonly exists: boolean;
  /** Migrations the next start applies, oldest first. */
  readonly pending: readonly string[];
}

/**
 * Which migrations the database the config names still lacks, changing
 * nothing: a missing SQLite file is not created, and a SQLite file is opened
 * read-only.
 * @throws Error when the database cannot be reached or read.
 */
export async function pendingMigrations(settings: DatabaseSettings): Promise<MigrationStatus> {
  if (settings.engine === 'sqlite' && (settings.path === ':memory:' || !existsSync(settings.path))) {
    const all = Object.keys(await new SqlFileMigrationProvider('sqlite').getMigrations());
    return { exists: false, pending: all };
  }
  return { exists: true, pending: await readDatabase(settings, (db) => migrationCheck(db, settings.engine)()) };
}

/**
 * Runs `read` on the database the config names, changing nothing: a SQLite
 * file is opened read-only (and must exist), PostgreSQL over one connection.
 * @throws Error when the database cannot be reached or read.
 */
export async function readDatabase<T>(settings: DatabaseSettings, read: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const db =
    settings.engine === 'sqlite'
      ? new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(settings.path, { readonly: true, fileMustExist: true }) }) })
      : new Kysely<Database>({
          dialect: new PostgresDialect({ pool: new (postgres().Pool)({ connectionString: settings.url, max: 1, connectionTimeoutMillis: 10_000 }) }),
        });
  try {
    return await read(db);
  } finally {
    await db.destroy();
  }
}
