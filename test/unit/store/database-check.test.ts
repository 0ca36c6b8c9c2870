import { existsSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { parseConfig } from '../../../src/config';
import { openSqliteDatabase, pendingMigrations, readDatabase } from '../../../src/store/database';
import { MIGRATION_TABLE, SqlFileMigrationProvider } from '../../../src/store/migrations';
import { removeDir, tempDir } from '../../support/harness';

/** What `--check` reads of a SQLite database: pending migrations, and reads that change nothing. */
describe('reading a SQLite database without changing it', () => {
  let dir: string;
  let file: string;
  let all: string[];

  beforeAll(async () => {
    all = Object.keys(await new SqlFileMigrationProvider('sqlite').getMigrations()).sort();
  });

  beforeEach(() => {
    dir = tempDir('threepid-db-check-');
    file = path.join(dir, 'data', 'threepid.sqlite');
  });

  afterEach(() => removeDir(dir));

  const settings = (dbPath: string) => parseConfig({ database: { path: dbPath } }).database;

  // Errors are matched by their fields: better-sqlite3 makes them with the class of the first test file
  // that loaded it, another realm's Error to a later file in the same worker.
  it('reports every migration pending for a file not created yet (or in memory), and creates nothing', async () => {
    expect(all.length).toBeGreaterThan(0);
    expect(await pendingMigrations(settings(file))).toEqual({ exists: false, pending: all });
    expect(existsSync(file)).toBe(false);
    expect(existsSync(path.dirname(file))).toBe(false);
    expect(await pendingMigrations(settings(':memory:'))).toEqual({ exists: false, pending: all });
  });

  it('reports nothing pending once the database is opened, and the migration a database lacks', async () => {
    const db = await openSqliteDatabase(file);
    await db.destroy();
    expect(await pendingMigrations(settings(file))).toEqual({ exists: true, pending: [] });

    const raw = new BetterSqlite3(file);
    raw.prepare(`DELETE FROM ${MIGRATION_TABLE} WHERE name = ?`).run(all[all.length - 1]);
    raw.close();
    expect(await pendingMigrations(settings(file))).toEqual({ exists: true, pending: [all[all.length - 1]] });
  });

  it('opens the file read-only, and refuses one that does not exist rather than create it', async () => {
    const db = await openSqliteDatabase(file);
    await db.destroy();
    expect(await readDatabase(settings(file), async (read) => (await read.selectFrom('threepid_sessions').select('sid').execute()).length)).toBe(0);
    await expect(readDatabase(settings(file), (read) => sql`DELETE FROM threepid_sessions`.execute(read))).rejects.toMatchObject({ code: 'SQLITE_READONLY' });

    const missing = path.join(dir, 'missing.sqlite');
    await expect(readDatabase(settings(missing), async () => 'read')).rejects.toMatchObject({ code: 'SQLITE_CANTOPEN' });
    expect(existsSync(missing)).toBe(false);
  });

  it('refuses to open a database whose schema the migrations cannot apply to, and lets go of the file', async () => {
    const raw = new BetterSqlite3(file.replace('data/', ''));
    raw.exec('CREATE TABLE threepid_sessions (unrelated INTEGER)');
    raw.close();
    await expect(openSqliteDatabase(file.replace('data/', ''))).rejects.toMatchObject({ message: expect.stringMatching(/threepid_sessions/) });
    // Nothing holds the file: another connection may take its write lock at once.
    const after = new BetterSqlite3(file.replace('data/', ''));
    expect(() => after.exec('BEGIN IMMEDIATE; CREATE TABLE probe (x); COMMIT')).not.toThrow();
    expect(after.prepare(`SELECT count(*) AS n FROM ${MIGRATION_TABLE}`).get()).toEqual({ n: 0 });
    after.close();
  });

  it('refuses a file that is not a SQLite database', async () => {
    const notDb = path.join(dir, 'not.sqlite');
    require('node:fs').writeFileSync(notDb, 'this is not a database'.repeat(100));
    await expect(openSqliteDatabase(notDb)).rejects.toMatchObject({ code: 'SQLITE_NOTADB' });
  });
});
