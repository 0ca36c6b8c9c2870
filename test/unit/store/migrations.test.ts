import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql, SqliteDialect } from 'kysely';
import { openSqliteDatabase } from '../../../src/store/database';
import { migrateToLatest, migrationCheck, SqlFileMigrationProvider, SQL_DIR } from '../../../src/store/migrations';
import { removeDir, tempDir } from '../../support/harness';

/** A bare SQLite database (no migrations run), for driving the migrator directly. */
function bareDatabase(file: string): Kysely<any> {
  return new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
}

async function tableNames(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`.execute(db);
  return rows.map((row) => row.name);
}

/** The migration names the shipped folder holds, for one engine (whatever other work has added). */
function shippedNames(engine: 'sqlite' | 'postgres'): string[] {
  const names = new Set<string>();
  for (const file of readdirSync(SQL_DIR)) {
    const match = /^(\d{4}_[a-z0-9_]+)\.sql(?:\.(sqlite|postgres))?$/.exec(file);
    if (match && (match[2] === undefined || match[2] === engine)) names.add(match[1]);
  }
  return [...names].sort();
}

async function appliedMigrations(db: Kysely<any>): Promise<string[]> {
  const rows = await db.selectFrom('threepid_migration').select('name').orderBy('name').execute();
  return rows.map((row) => row.name as string);
}

describe('migrations', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('threepid-migrations-');
  });
  afterEach(() => removeDir(dir));

  describe('the shipped migrations', () => {
    it('apply to a fresh SQLite file', async () => {
      const db = await openSqliteDatabase(path.join(dir, 'nested', 'threepid.sqlite'));
      try {
        expect(await tableNames(db)).toEqual(
          expect.arrayContaining(['threepid_sessions', 'threepid_outbox', 'threepid_bindings', 'threepid_rate_limits', 'threepid_migration', 'threepid_migration_lock']),
        );
        const applied = await appliedMigrations(db);
        expect(applied).toEqual(shippedNames('sqlite'));
        expect(applied.slice(0, 3)).toEqual(['0001_threepid_sessions', '0002_outbox', '0003_threepid_bindings']);
      } finally {
        await db.destroy();
      }
    });

    it('are a no-op when run again, on the same handle or after reopening', async () => {
      const file = path.join(dir, 'threepid.sqlite');
      const first = await openSqliteDatabase(file);
      await first
        .insertInto('threepid_bindings')
        .values({ medium: 'email', address: 'a@b.com', user_id: '@a:b', validated_at: 1, added_at: 1 })
        .execute();
      await migrateToLatest(first, 'sqlite');
      const before = await appliedMigrations(first);
      await first.destroy();

      const second = await openSqliteDatabase(file);
      try {
        expect(await appliedMigrations(second)).toEqual(before);
        expect(await second.selectFrom('threepid_bindings').selectAll().execute()).toHaveLength(1);
      } finally {
        await second.destroy();
      }
    });

    it('are found for both engines in the shipped folder', async () => {
      for (const engine of ['sqlite', 'postgres'] as const) {
        const migrations = await new SqlFileMigrationProvider(engine).getMigrations();
        expect(Object.keys(migrations)).toEqual(shippedNames(engine));
      }
      expect(SQL_DIR).toMatch(/sql$/);
    });
  });

  it('0007 keeps only the newest of racing open sessions, then refuses a second one', async () => {
    const sqlDir = path.join(dir, 'sql');
    mkdirSync(sqlDir);
    const shipped = readdirSync(SQL_DIR).filter((name) => /^\d{4}_.*\.sql$/.test(name)).sort();
    const copy = (name: string) => writeFileSync(path.join(sqlDir, name), readFileSync(path.join(SQL_DIR, name)));
    shipped.filter((name) => name < '0007').forEach(copy);
    const db = bareDatabase(path.join(dir, 'threepid.sqlite'));
    try {
      await migrateToLatest(db, 'sqlite', sqlDir);
      const session = (sid: string, createdAt: number, extra: object = {}) => ({
        sid, client_secret_hash: 'h', medium: 'email', address: 'a@example.org', flow: 'registration',
        send_attempt: 1, token_hash: 't', created_at: createdAt, expires_at: createdAt + 1000, ...extra,
      });
      await db
        .insertInto('threepid_sessions')
        .values([
          session('older', 1),
          session('newer', 2),
          session('validated', 3, { validated_at: 3 }),
          session('proxied', 4, { id_server: 'is.example.org' }),
        ])
        .execute();
      shipped.filter((name) => name >= '0007').forEach(copy);
      await migrateToLatest(db, 'sqlite', sqlDir);
      const left = await db.selectFrom('threepid_sessions').select('sid').orderBy('sid').execute();
      expect(left.map((row) => row.sid)).toEqual(['newer', 'proxied', 'validated']);
      await expect(db.insertInto('threepid_sessions').values(session('another', 5)).execute()).rejects.toMatchObject({
        code: 'SQLITE_CONSTRAINT_UNIQUE',
      });
    } finally {
      await db.destroy();
    }
  });

  describe('SqlFileMigrationProvider over a folder of our own', () => {
    let sqlDir: string;
    beforeEach(() => {
      sqlDir = path.join(dir, 'sql');
      mkdirSync(sqlDir);
    });

    function file(name: string, text: string): void {
      writeFileSync(path.join(sqlDir, name), text);
    }

    it('runs every statement of a file, skipping comments, in name order', async () => {
      file('0002_second.sql', 'CREATE TABLE second (id INTEGER);\n');
      file(
        '0001_first.sql',
        '-- a comment; with a semicolon\nCREATE TABLE first (id INTEGER);\n\n-- another\nCREATE INDEX first_id ON first (id);\n',
      );
      file('README.md', 'not a migration');
      file('0003_Bad-Name.sql', 'this is not matched by the file pattern');
      const migrations = await new SqlFileMigrationProvider('sqlite', sqlDir).getMigrations();
      expect(Object.keys(migrations)).toEqual(['0001_first', '0002_second']);

      const db = bareDatabase(path.join(dir, 'own.sqlite'));
      try {
        await migrateToLatest(db, 'sqlite', sqlDir);
        expect(await tableNames(db)).toEqual(expect.arrayContaining(['first', 'second']));
        expect(await appliedMigrations(db)).toEqual(['0001_first', '0002_second']);
      } finally {
        await db.destroy();
      }
    });

    it('uses an engine override (NNNN_x.sql.sqlite) instead of the portable file on sqlite', async () => {
      file('0001_x.sql', 'CREATE TABLE portable (id INTEGER);\n');
      file('0001_x.sql.sqlite', 'CREATE TABLE only_on_sqlite (id INTEGER);\n');
      file('0001_x.sql.postgres', 'CREATE TABLE only_on_postgres (id INTEGER);\n');

      const db = bareDatabase(path.join(dir, 'override.sqlite'));
      try {
        await migrateToLatest(db, 'sqlite', sqlDir);
        const tables = await tableNames(db);
        expect(tables).toContain('only_on_sqlite');
        expect(tables).not.toContain('portable');
        expect(tables).not.toContain('only_on_postgres');
        expect(await appliedMigrations(db)).toEqual(['0001_x']);
      } finally {
        await db.destroy();
      }
    });

    it('ignores a sqlite override on postgres (the portable file is used)', async () => {
      file('0001_x.sql', 'CREATE TABLE portable (id INTEGER);\n');
      file('0001_x.sql.sqlite', 'CREATE TABLE only_on_sqlite (id INTEGER);\n');
      const migrations = await new SqlFileMigrationProvider('postgres', sqlDir).getMigrations();
      expect(Object.keys(migrations)).toEqual(['0001_x']);

      // No PostgreSQL here: run the chosen migration's `up` on SQLite to see which file it holds.
      const db = bareDatabase(path.join(dir, 'pg-choice.sqlite'));
      try {
        await migrations['0001_x'].up(db);
        const tables = await tableNames(db);
        expect(tables).toContain('portable');
        expect(tables).not.toContain('only_on_sqlite');
      } finally {
        await db.destroy();
      }
    });

    it('uses an override that has no portable file, only on its engine', async () => {
      file('0001_only.sql.sqlite', 'CREATE TABLE only_sqlite (id INTEGER);\n');
      expect(Object.keys(await new SqlFileMigrationProvider('sqlite', sqlDir).getMigrations())).toEqual(['0001_only']);
      expect(Object.keys(await new SqlFileMigrationProvider('postgres', sqlDir).getMigrations())).toEqual([]);
    });

    it('names the failing migration in the error and records nothing of it', async () => {
      file('0001_good.sql', 'CREATE TABLE good (id INTEGER);\n');
      file('0002_broken.sql', 'CREATE TABLE half (id INTEGER);\nCREATE TABLEX nope (id INTEGER);\n');
      file('0003_later.sql', 'CREATE TABLE later (id INTEGER);\n');

      const db = bareDatabase(path.join(dir, 'broken.sqlite'));
      try {
        await expect(migrateToLatest(db, 'sqlite', sqlDir)).rejects.toThrow(
          /^database migration 0002_broken failed: .*syntax error/,
        );
        const tables = await tableNames(db);
        expect(tables).toContain('good');
        // The file runs in one transaction: its first statement is rolled back.
        expect(tables).not.toContain('half');
        expect(tables).not.toContain('later');
        expect(await appliedMigrations(db)).toEqual(['0001_good']);

        // Once fixed, the migration runs on the next start.
        file('0002_broken.sql', 'CREATE TABLE half (id INTEGER);\n');
        await migrateToLatest(db, 'sqlite', sqlDir);
        expect(await appliedMigrations(db)).toEqual(['0001_good', '0002_broken', '0003_later']);
      } finally {
        await db.destroy();
      }
    });

    it('makes openSqliteDatabase reject a file that is not a database', async () => {
      const file = path.join(dir, 'corrupt.sqlite');
      writeFileSync(file, 'this is not a database, it is plain text, long enough to have a header....');
      // Matched by message: better-sqlite3's SqliteError can come from another realm under jest.
      await expect(openSqliteDatabase(file)).rejects.toMatchObject({ message: expect.stringMatching(/not a database/) });
    });
  });
});

describe('migrationCheck', () => {
  it('names the migrations an unmigrated database lacks, and none once migrated', async () => {
    const dir = tempDir();
    const raw = bareDatabase(path.join(dir, 'x.sqlite'));
    try {
      const pending = migrationCheck(raw, 'sqlite');
      expect(await pending()).toEqual(Object.keys(await new SqlFileMigrationProvider('sqlite').getMigrations()));
      await migrateToLatest(raw, 'sqlite');
      expect(await pending()).toEqual([]);
    } finally {
      await raw.destroy();
      removeDir(dir);
    }
  });
});
