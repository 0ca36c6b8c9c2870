/**
 * kysely ships two builds, one for `import` and one for `require`, each with
 * its own classes. This package is CommonJS, so an ES-module host's Kysely
 * is of the other build: the engine used to be found with `instanceof`
 * against this build's PostgresAdapter, which took an ES-module host's
 * PostgreSQL for SQLite. And a dialect that is neither (MySQL) was taken for
 * SQLite too, instead of being refused with the way out.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from 'kysely';
import { Pool } from 'pg';
import { engineOf, migrate, ThreepidError } from '../../src';
import { migrationCheck } from '../../src/store/migrations';
import { removeDir, startModule, tempDir } from '../support/harness';
import { thrown } from '../support/thrown';
import { postgresDatabaseFor, queryTestDatabase, testEngine } from '../support/postgres';

const ROOT = path.resolve(__dirname, '../..');
const execFileAsync = promisify(execFile);

/**
 * An ES-module host, as its author writes it: `kysely`, `pg`,
 * `better-sqlite3` and the package imported by name (from inside this
 * checkout, so the package is its built dist/ and kysely its `import` build).
 */
const ESM_HOST = `
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresAdapter, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { engineOf, migrate } from 'matrix-hs-threepid';

const [engine, target] = process.argv.slice(2);
const neverConnected = async () => { throw new Error('never connected'); };
/** A host's own dialect, on kysely's PostgreSQL adapter. */
class HostPostgresDialect extends PostgresDialect {
  createAdapter() { return new (class HostPostgresAdapter extends PostgresAdapter {})(); }
}
const dialects = {
  postgres: () => new PostgresDialect({ pool: new pg.Pool({ connectionString: target, max: 2 }) }),
  sqlite: () => new SqliteDialect({ database: new BetterSqlite3(target) }),
  mysql: () => new MysqlDialect({ pool: neverConnected }),
  'host-postgres': () => new HostPostgresDialect({ pool: neverConnected }),
};
const db = new Kysely({ dialect: dialects[engine]() });
const build = import.meta.resolve('kysely');
try {
  const found = engineOf(db);
  // Without a database to migrate, only the engine is asked for.
  if (target) await migrate(db);
  console.log(JSON.stringify({ build, found }));
} catch (err) {
  console.log(JSON.stringify({ build, refused: { name: err.name, errcode: err.errcode, message: err.message } }));
} finally {
  await db.destroy();
}
`;

const ESM_BUILD = expect.stringMatching(/\/kysely\/dist\/esm\/index\.js$/);
const NOT_SQLITE_NOR_POSTGRES = { name: 'ThreepidError', errcode: 'M_INVALID_PARAM', message: expect.stringMatching(/MysqlAdapter.*databaseEngine/) };

/** A Kysely of this package's own (CommonJS) build on the test's database, to look at what the host's did. */
async function ownKysely(file: string): Promise<Kysely<any>> {
  return testEngine() === 'postgres'
    ? new Kysely<any>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: await postgresDatabaseFor(file), max: 1 }) }) })
    : new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
}

describe("a host's Kysely from kysely's ES-module build", () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    dir = tempDir('threepid-esm-kysely-');
    // Inside the checkout: bare imports resolve to its node_modules and, by the package's own name, to dist/.
    const scripts = path.join(ROOT, 'test-output', `esm-kysely-${process.pid}`);
    mkdirSync(scripts, { recursive: true });
    script = path.join(scripts, 'host.mjs');
    writeFileSync(script, ESM_HOST);
  });
  afterAll(() => {
    removeDir(path.dirname(script));
    removeDir(dir);
  });

  const runHost = async (engine: string, target: string) => {
    const { stdout } = await execFileAsync(process.execPath, [script, engine, target], { cwd: dir, timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as { build: string; found?: string; refused?: object };
  };

  it('is recognised by its engine and migrated, every table in that database', async () => {
    const file = path.join(dir, 'host.sqlite');
    const target = testEngine() === 'postgres' ? await postgresDatabaseFor(file) : file;
    const result = await runHost(testEngine(), target);
    expect(result).toEqual({ build: ESM_BUILD, found: testEngine() });

    const tablesQuery =
      testEngine() === 'postgres'
        ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'threepid%' ORDER BY 1"
        : "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'threepid%' ORDER BY 1";
    const tables =
      testEngine() === 'postgres'
        ? await queryTestDatabase<{ name: string }>(file, tablesQuery, [])
        : new BetterSqlite3(file, { readonly: true }).prepare<[], { name: string }>(tablesQuery).all();
    expect(tables.map((row) => row.name)).toEqual(expect.arrayContaining(['threepid_sessions', 'threepid_outbox', 'threepid_bindings', 'threepid_migration']));
    const db = await ownKysely(file);
    try {
      expect(await migrationCheck(db, testEngine())()).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('of another dialect is refused, naming its adapter and databaseEngine', async () => {
    expect(await runHost('mysql', '')).toEqual({ build: ESM_BUILD, refused: NOT_SQLITE_NOR_POSTGRES });
  });

  it("of the host's own dialect on kysely's PostgreSQL adapter, subclassed, is taken for PostgreSQL", async () => {
    expect(await runHost('host-postgres', '')).toEqual({ build: ESM_BUILD, found: 'postgres' });
  });
});

describe("a host's Kysely of another dialect", () => {
  const mysql = () => new Kysely<any>({ dialect: new MysqlDialect({ pool: async () => Promise.reject(new Error('never connected')) }) });

  it('is refused by engineOf, migrate and createThreepidModule, never taken for SQLite', async () => {
    const db = mysql();
    expect(thrown(ThreepidError, () => engineOf(db))).toMatchObject(NOT_SQLITE_NOR_POSTGRES);
    await expect(migrate(db)).rejects.toMatchObject(NOT_SQLITE_NOR_POSTGRES);
    const dir = tempDir('threepid-mysql-kysely-');
    try {
      await expect(startModule({ database: { path: path.join(dir, 'unused.sqlite') } }, { database: db })).rejects.toMatchObject(NOT_SQLITE_NOR_POSTGRES);
      // Refused before anything is made for it: no outbox key file beside the configured path.
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      removeDir(dir);
    }
  });

  it('is taken at its word when the host names the engine', async () => {
    // The way out the refusal names: migrate's engine (databaseEngine, for createThreepidModule) is not second-guessed.
    await expect(migrate(mysql(), 'sqlite')).rejects.toThrow(/never connected/);
  });
});
