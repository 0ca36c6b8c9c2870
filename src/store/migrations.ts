import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../package-files';
import { Kysely, Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import { checkEngine, checkKysely, engineOf, type Engine, type HostKysely } from './engine';

/** The folder of numbered plain-SQL migrations shipped with the module. */
export const SQL_DIR = path.join(packageRoot(), 'sql');

/** `0001_threepid_sessions.sql` (portable) or `0001_x.sql.sqlite` (engine override). */
const FILE_PATTERN = /^(\d{4}_[a-z0-9_]+)\.sql(?:\.(sqlite|postgres))?$/;

/**
 * Splits a migration file into statements. Our migrations hold plain DDL with
 * no semicolons inside literals or bodies, so a statement ends at a `;` that
 * closes a line. (better-sqlite3 runs one statement per call.)
 */
function statements(text: string): string[] {
  return text
    .split(/;\s*$/m)
    .map((part) => part.replace(/^\s*--.*$/gm, '').trim())
    .filter((part) => part.length > 0);
}

/**
 * Feeds `sql/NNNN_name.sql` files to Kysely's Migrator. A file named
 * `NNNN_name.sql.<engine>` replaces the portable one on that engine. Each file
 * runs in a transaction: Kysely does not wrap SQLite migrations (each file
 * gets its own here, so a half-applied file is never recorded as done), and
 * wraps all of PostgreSQL's in one.
 */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(
    private readonly engine: Engine,
    private readonly dir: string = SQL_DIR,
  ) {}

  private loaded: Promise<Record<string, Migration>> | undefined;

  /** Read once: the files are frozen in time, and readiness checks ask often. */
  getMigrations(): Promise<Record<string, Migration>> {
    return (this.loaded ??= this.load());
  }

  private async load(): Promise<Record<string, Migration>> {
    const chosen = new Map<string, string>();
    for (const file of (await readdir(this.dir)).sort()) {
      const match = FILE_PATTERN.exec(file);
      if (!match) continue;
      const [, name, engine] = match;
      if (engine !== undefined && engine !== this.engine) continue;
      if (engine === undefined && chosen.has(name)) continue;
      chosen.set(name, file);
    }
    const migrations: Record<string, Migration> = {};
    for (const [name, file] of chosen) {
      const text = await readFile(path.join(this.dir, file), 'utf8');
      const parts = statements(text);
      migrations[name] = {
        up: async (db) => {
          // PostgreSQL: Kysely already runs all migrations in one transaction.
          if (this.engine === 'postgres') {
            for (const statement of parts) await sql.raw(statement).execute(db);
            return;
          }
          await db.transaction().execute(async (trx) => {
            for (const statement of parts) await sql.raw(statement).execute(trx);
          });
        },
      };
    }
    return migrations;
  }
}

/**
 * Applies every pending migration of the module's schema to `db` (a host's
 * own Kysely on SQLite or PostgreSQL, from either kysely build, works: the
 * module's tables live beside the host's). Safe to run at every start and from several processes at once.
 * `createThreepidModule` runs it on the database it is given.
 *
 * ```ts
 * await migrate(hostKysely); // the engine is found from the dialect
 * ```
 * @throws Error naming the migration that failed; ThreepidError
 * `M_INVALID_PARAM` for a dialect that is neither (see {@link engineOf}).
 */
export async function migrate(db: HostKysely, engine?: Engine): Promise<void> {
  checkKysely(db);
  checkEngine(engine);
  // Either build's Kysely runs the module's queries: they are plain operation nodes.
  await migrateToLatest(db as Kysely<any>, engine ?? engineOf(db));
}

/**
 * Where Kysely's Migrator keeps the module's bookkeeping: under the module's
 * prefix, so it lives beside a host's own (Kysely's default names).
 */
export const MIGRATION_TABLE = 'threepid_migration';
export const MIGRATION_LOCK_TABLE = 'threepid_migration_lock';
/** Kysely's default names, which the module's bookkeeping had before 0010. */
const LEGACY_MIGRATION_TABLE = 'kysely_migration';
const LEGACY_MIGRATION_LOCK_TABLE = 'kysely_migration_lock';
/** Serialises adopting the legacy bookkeeping across PostgreSQL replicas ("3pid" in ASCII). */
const ADOPT_LOCK_KEY = 0x33706964;

function migrator(db: Kysely<any>, provider: SqlFileMigrationProvider): Migrator {
  return new Migrator({ db, provider, migrationTableName: MIGRATION_TABLE, migrationLockTableName: MIGRATION_LOCK_TABLE });
}

async function tableExists(db: Kysely<any>, engine: Engine, table: string): Promise<boolean> {
  const { rows } =
    engine === 'postgres'
      ? await sql<{ found: boolean }>`SELECT to_regclass(${table}) IS NOT NULL AS found`.execute(db)
      : await sql<{ found: number }>`SELECT count(*) AS found FROM sqlite_master WHERE type = 'table' AND name = ${table}`.execute(db);
  return Boolean(rows[0]?.found);
}

/**
 * A database migrated before the bookkeeping had the module's prefix keeps
 * it in Kysely's default tables. The module's rows move to its own table
 * (created as Kysely's Migrator creates it), in one transaction; the default
 * tables are dropped once nothing else is left in them (a host's own rows
 * stay). Runs before every migration, and does nothing once done.
 */
async function adoptLegacyBookkeeping(db: Kysely<any>, engine: Engine, provider: SqlFileMigrationProvider): Promise<void> {
  if (!(await tableExists(db, engine, LEGACY_MIGRATION_TABLE))) return;
  const ours = Object.keys(await provider.getMigrations());
  await db.transaction().execute(async (trx) => {
    if (engine === 'postgres') await sql`SELECT pg_advisory_xact_lock(${ADOPT_LOCK_KEY})`.execute(trx);
    // Another replica may have finished first.
    if (!(await tableExists(trx, engine, LEGACY_MIGRATION_TABLE))) return;
    await trx.schema
      .createTable(MIGRATION_TABLE)
      .ifNotExists()
      .addColumn('name', 'varchar(255)', (column) => column.notNull().primaryKey())
      .addColumn('timestamp', 'varchar(255)', (column) => column.notNull())
      .execute();
    await trx
      .insertInto(MIGRATION_TABLE)
      .columns(['name', 'timestamp'])
      .expression(
        trx
          .selectFrom(LEGACY_MIGRATION_TABLE)
          .select(['name', 'timestamp'])
          .where('name', 'in', ours)
          .where('name', 'not in', trx.selectFrom(MIGRATION_TABLE).select('name')),
      )
      .execute();
    await trx.deleteFrom(LEGACY_MIGRATION_TABLE).where('name', 'in', ours).execute();
    const left = await trx.selectFrom(LEGACY_MIGRATION_TABLE).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    if (Number(left.n) === 0) {
      await trx.schema.dropTable(LEGACY_MIGRATION_TABLE).execute();
      await trx.schema.dropTable(LEGACY_MIGRATION_LOCK_TABLE).ifExists().execute();
    }
  });
}

/**
 * Applies every pending migration. Safe to run at every start.
 * @throws Error naming the migration that failed.
 */
export async function migrateToLatest(db: Kysely<any>, engine: Engine, dir?: string): Promise<void> {
  const provider = new SqlFileMigrationProvider(engine, dir);
  await adoptLegacyBookkeeping(db, engine, provider);
  const { error, results } = await migrator(db, provider).migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    const name = failed ? ` ${failed.migrationName}` : '';
    throw new Error(`database migration${name} failed: ${(error as Error).message ?? String(error)}`);
  }
}

/**
 * Answers the names of the migrations not yet applied (empty when the schema
 * is current). Changes nothing: bookkeeping still under Kysely's default
 * names (before 0010) is read where it is.
 */
/**
 * The readiness check behind `/ready`: the database answers a query, and
 * the names of the migrations not applied yet (empty when ready). Rejects
 * when the database does not answer. The migration files are read once.
 */
export function readinessCheck(db: Kysely<any>, engine: Engine): () => Promise<string[]> {
  const pending = migrationCheck(db, engine);
  return async () => {
    await sql`SELECT 1`.execute(db);
    return pending();
  };
}

export function migrationCheck(db: Kysely<any>, engine: Engine, dir?: string): () => Promise<string[]> {
  const provider = new SqlFileMigrationProvider(engine, dir);
  return async () => {
    const executed = new Set<string>();
    for (const table of [MIGRATION_TABLE, LEGACY_MIGRATION_TABLE]) {
      if (!(await tableExists(db, engine, table))) continue;
      for (const row of await db.selectFrom(table).select('name').execute()) executed.add(row.name as string);
    }
    return Object.keys(await provider.getMigrations()).filter((name) => !executed.has(name));
  };
}
