/**
 * A deployment migrated before 0010 keeps its bookkeeping in Kysely's
 * default tables (kysely_migration, kysely_migration_lock) and its tables
 * unprefixed (outbox, rate_limits). Upgrading moves the bookkeeping under the
 * module's prefix, renames the tables, keeps every row, and leaves a host's
 * own rows in Kysely's default table where they are. On SQLite and on
 * PostgreSQL (the jest project decides).
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, SqliteDialect } from 'kysely';
import { Pool } from 'pg';
import { migrationCheck, SqlFileMigrationProvider, SQL_DIR } from '../../src/store/migrations';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { postgresDatabaseFor, testEngine } from '../support/postgres';

const engine = testEngine();
const REGISTER = '/_matrix/client/v3/register/email/requestToken';

async function open(file: string): Promise<Kysely<any>> {
  return engine === 'postgres'
    ? new Kysely<any>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: await postgresDatabaseFor(file), max: 2 }) }) })
    : new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
}

async function tables(db: Kysely<any>): Promise<string[]> {
  const { rows } =
    engine === 'postgres'
      ? await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`.execute(db)
      : await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`.execute(db);
  return rows.map((row) => row.name);
}

async function indexes(db: Kysely<any>): Promise<string[]> {
  const { rows } =
    engine === 'postgres'
      ? await sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1`.execute(db)
      : await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY 1`.execute(db);
  return rows.map((row) => row.name);
}

/** The shipped migrations before 0010, as the previous version ran them: Kysely's default bookkeeping. */
async function migrateAsBefore(db: Kysely<any>, dir: string): Promise<string[]> {
  const old = path.join(dir, 'sql-before-0010');
  mkdirSync(old);
  for (const file of readdirSync(SQL_DIR)) if (/^000\d_/.test(file)) copyFileSync(path.join(SQL_DIR, file), path.join(old, file));
  const provider = new SqlFileMigrationProvider(engine, old);
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) throw error;
  return Object.keys(await provider.getMigrations());
}

describe(`migration bookkeeping from before 0010 (${engine})`, () => {
  let dir: string;
  let file: string;
  let db: Kysely<any>;

  beforeEach(async () => {
    dir = tempDir('threepid-legacy-');
    file = path.join(dir, 'threepid.sqlite');
    db = await open(file);
  });

  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  it('moves under the prefix on the next start; the tables are renamed with their rows; the module serves', async () => {
    const before = await migrateAsBefore(db, dir);
    expect(await tables(db)).toEqual(expect.arrayContaining(['kysely_migration', 'kysely_migration_lock', 'outbox', 'rate_limits']));
    await sql`INSERT INTO outbox (id, channel, payload, status, created_at, next_attempt_at) VALUES ('old-1', 'email', NULL, 'sent', 1, 1)`.execute(db);
    await sql`INSERT INTO rate_limits (key, tokens, updated_at) VALUES ('ip:old', 1.5, ${Date.now()})`.execute(db); // not idle: kept by the purge
    const pending = await migrationCheck(db, engine)();
    expect(pending).toContain('0010_prefixed_tables');
    expect(pending.some((name) => before.includes(name))).toBe(false); // read from the old bookkeeping

    const running = await startModule({ database: { path: file } });
    try {
      const res = await post(running.url + REGISTER, { client_secret: 'legacy_1', email: 'legacy@example.org', send_attempt: 1 });
      expect(res.status).toBe(200);
    } finally {
      await running.close();
    }

    const now = await tables(db);
    expect(now).not.toEqual(expect.arrayContaining(['kysely_migration']));
    expect(now.filter((name) => !name.startsWith('threepid_'))).toEqual([]);
    expect((await indexes(db)).filter((name) => !name.startsWith('threepid_'))).toEqual([]);
    expect(await migrationCheck(db, engine)()).toEqual([]);
    const applied = (await db.selectFrom('threepid_migration').select('name').orderBy('name').execute()).map((row) => row.name);
    expect(applied).toEqual(expect.arrayContaining([...before, '0010_prefixed_tables']));
    const ids = (await db.selectFrom('threepid_outbox').select('id').execute()).map((row) => row.id);
    expect(ids).toContain('old-1');
    expect(ids).toHaveLength(2);
    expect(await db.selectFrom('threepid_rate_limits').select(['key', 'tokens']).where('key', '=', 'ip:old').execute()).toEqual([
      { key: 'ip:old', tokens: 1.5 },
    ]);
  });

  it("leaves a host's own rows in Kysely's default table, and its table, where they are", async () => {
    await migrateAsBefore(db, dir);
    await db.insertInto('kysely_migration').values({ name: 'host_0001_users', timestamp: new Date(0).toISOString() }).execute();
    const running = await startModule({ database: { path: file } });
    await running.close();
    expect((await db.selectFrom('kysely_migration').select('name').execute()).map((row) => row.name)).toEqual(['host_0001_users']);
    expect(await tables(db)).toEqual(expect.arrayContaining(['kysely_migration', 'threepid_migration', 'threepid_outbox']));
  });
});
