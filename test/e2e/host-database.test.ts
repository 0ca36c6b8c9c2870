/**
 * A homeserver that hands the module its own Kysely, on its own database:
 * the module migrates it (no 500 at the first requestToken), finds the
 * engine from the dialect, leaves the host's tables alone, and does not
 * close the host's database.
 */
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { Pool } from 'pg';
import { engineOf, migrate } from '../../src';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { postgresDatabaseFor, testEngine } from '../support/postgres';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';

async function hostDatabase(dir: string): Promise<Kysely<any>> {
  const file = path.join(dir, 'host.sqlite');
  return testEngine() === 'postgres'
    ? new Kysely<any>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: await postgresDatabaseFor(file), max: 4 }) }) })
    : new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
}

describe("a host's own Kysely", () => {
  let dir: string;
  let db: Kysely<any>;
  let running: Running | undefined;

  beforeEach(async () => {
    dir = tempDir('threepid-host-db-');
    db = await hostDatabase(dir);
    // The host's own table, there before the module.
    await sql`create table users (name text primary key)`.execute(db);
    await sql`insert into users (name) values ('alice')`.execute(db);
  });

  afterEach(async () => {
    await running?.close();
    running = undefined;
    await db.destroy();
    removeDir(dir);
  });

  it('is migrated by createThreepidModule and serves requestToken at once', async () => {
    expect(engineOf(db)).toBe(testEngine());
    running = await startModule({ database: { path: path.join(dir, 'unused.sqlite') } }, { database: db });
    const res = await post(running.url + REGISTER, { client_secret: 'host_db', email: 'host@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    expect(res.body.sid).toEqual(expect.any(String));
    // The host's table is untouched, and its database still open after the module closes.
    await running.close();
    running = undefined;
    expect((await sql<{ name: string }>`select name from users`.execute(db)).rows).toEqual([{ name: 'alice' }]);
  });

  it('can be migrated up front with migrate(), any number of times', async () => {
    await migrate(db);
    await migrate(db);
    running = await startModule({ database: { path: path.join(dir, 'unused.sqlite') } }, { database: db });
    const res = await post(running.url + REGISTER, { client_secret: 'host_db2', email: 'host2@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
  });
});
