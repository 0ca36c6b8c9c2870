/**
 * Migration 0010 renames the tables (outbox → threepid_outbox, rate_limits →
 * threepid_rate_limits) and moves the bookkeeping out of Kysely's default
 * table. A replica of the previous version still running beside the new one
 * (a rolling upgrade) queries the old names, and one restarted afterwards
 * runs its migrations again on the renamed schema. The README's "Upgrading"
 * paragraph says so (stop the old replicas first); this test holds it, on
 * PostgreSQL, where replicas share a database (and the restart on SQLite too).
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, SqliteDialect } from 'kysely';
import { Pool } from 'pg';
import { SqlFileMigrationProvider, SQL_DIR } from '../../src/store/migrations';
import { removeDir, startModule, tempDir } from '../support/harness';
import { postgresDatabaseFor, testEngine } from '../support/postgres';

const engine = testEngine();

async function open(file: string): Promise<Kysely<any>> {
  return engine === 'postgres'
    ? new Kysely<any>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: await postgresDatabaseFor(file), max: 2 }) }) })
    : new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
}

/** The previous version's migrator: the files before 0010, Kysely's default bookkeeping. */
function previousVersionMigrator(db: Kysely<any>, dir: string): Migrator {
  const old = path.join(dir, 'sql-before-0010');
  mkdirSync(old, { recursive: true });
  for (const file of readdirSync(SQL_DIR)) if (/^000\d_/.test(file)) copyFileSync(path.join(SQL_DIR, file), path.join(old, file));
  return new Migrator({ db, provider: new SqlFileMigrationProvider(engine, old) });
}

/** What the previous version's outbox worker asks at every turn. */
const previousVersionPoll = (db: Kysely<any>) => sql`SELECT id FROM outbox WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 10`.execute(db);

describe(`a replica of the version before 0010 beside the new one (${engine})`, () => {
  let dir: string;
  let file: string;
  let db: Kysely<any>;

  beforeEach(async () => {
    dir = tempDir('threepid-rolling-');
    file = path.join(dir, 'threepid.sqlite');
    db = await open(file);
    const { error } = await previousVersionMigrator(db, dir).migrateToLatest();
    if (error) throw error;
  });

  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  // Replicas share a PostgreSQL database; a second process on one SQLite file
  // is no deployment, and its connection may go on reading the schema it had.
  const onPostgres = engine === 'postgres' ? it : it.skip;

  onPostgres('cannot keep running: the tables it queries are renamed', async () => {
    await expect(previousVersionPoll(db)).resolves.toBeDefined();
    const upgraded = await startModule({ database: { path: file } });
    await upgraded.close();
    await expect(previousVersionPoll(db)).rejects.toThrow(/outbox/);
  });

  it('cannot restart: its bookkeeping is gone, and running its migrations again fails', async () => {
    const upgraded = await startModule({ database: { path: file } });
    await upgraded.close();
    const { error } = await previousVersionMigrator(db, dir).migrateToLatest();
    expect(error).toBeDefined();
  });
});
