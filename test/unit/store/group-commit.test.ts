/**
 * Group commit on SQLite: the transactions asked for in one turn of the
 * event loop share one BEGIN … COMMIT, each job under its own savepoint.
 *
 * The module's own SQLite driver over a real file; the statements it runs
 * are counted by wrapping better-sqlite3's `prepare` (the connection stays
 * the real one), so commits are counted, not timed.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type SqliteDatabase } from 'kysely';
import { StoreUnavailable } from '../../../src/model';
import { Keyring } from '../../../src/keyring';
import { registerSqliteConnection } from '../../../src/store/group-commit';
import { migrateToLatest } from '../../../src/store/migrations';
import type { Database } from '../../../src/store/schema';
import { AesGcmSealer } from '../../../src/store/sealing';
import { GuardedSqliteDialect } from '../../../src/store/sqlite-driver';
import { Store } from '../../../src/store/store';
import { WriteHealth } from '../../../src/store/write-health';
import { removeDir, tempDir } from '../../support/harness';
import { testEngine } from '../../support/postgres';
import { canMountSmallDisk, fillUp, makeSmallDisk, type SmallDisk } from '../../support/small-disk';

/** better-sqlite3's connection, with the statements run through it counted by their SQL. */
function counted(sqlite: BetterSqlite3.Database): { database: SqliteDatabase; runs: (statement: string) => number } {
  const counts = new Map<string, number>();
  const count = (text: string) => counts.set(text, (counts.get(text) ?? 0) + 1);
  return {
    runs: (statement) => counts.get(statement) ?? 0,
    database: {
      close: () => sqlite.close(),
      prepare(text: string) {
        const statement = sqlite.prepare(text);
        return {
          reader: statement.reader,
          all: (parameters: ReadonlyArray<unknown>) => (count(text), statement.all(parameters)),
          run: (parameters: ReadonlyArray<unknown>) => (count(text), statement.run(parameters)),
          iterate: (parameters: ReadonlyArray<unknown>) => (count(text), statement.iterate(parameters)),
        } as unknown as ReturnType<SqliteDatabase['prepare']>;
      },
    },
  };
}

async function openCounted(file: string) {
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 0');
  const { database, runs } = counted(sqlite);
  const dialect = new GuardedSqliteDialect({ database }, sqlite, { busyTimeoutMs: 5_000, health: new WriteHealth(), onWaitingForLock: () => {} });
  const db = new Kysely<Database>({ dialect });
  await migrateToLatest(db, 'sqlite');
  registerSqliteConnection(db, () => sqlite.inTransaction);
  const store = new Store(db, 'sqlite', new AesGcmSealer(Keyring.ephemeral()));
  return { db, store, commits: () => runs('commit') };
}

const onSqlite = testEngine() === 'sqlite' ? describe : describe.skip;

/** A job that writes one outbox row with this id. */
const writes = (id: string) => (tx: Store) => tx.outbox.enqueue({ id, channel: 'email', payload: { id }, now: 1 });

async function idsIn(db: Kysely<Database>): Promise<string[]> {
  return (await db.selectFrom('threepid_outbox').select('id').orderBy('id').execute()).map((row) => row.id);
}

onSqlite('group commit on SQLite', () => {
  let dir: string;
  let opened: Awaited<ReturnType<typeof openCounted>>;

  beforeEach(async () => {
    dir = tempDir('threepid-group-commit-');
    opened = await openCounted(path.join(dir, 'threepid.sqlite'));
  });

  afterEach(async () => {
    await opened.db.destroy();
    removeDir(dir);
  });

  it('commits the transactions asked for in one turn together, and later ones in a later commit', async () => {
    const { store, db, commits } = opened;
    const before = commits();
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => store.transaction(writes(id))));
    expect(commits() - before).toBe(1);
    await store.transaction(writes('f'));
    expect(commits() - before).toBe(2);
    expect(await idsIn(db)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('takes back only the writes of a job that throws, and answers the others', async () => {
    const { store, db, commits } = opened;
    const before = commits();
    const refused = new Error('refused by policy');
    const results = await Promise.allSettled([
      store.transaction(async (tx) => (await writes('a')(tx), 'a')),
      store.transaction(async (tx) => {
        await writes('b')(tx);
        throw refused;
      }),
      // A broken unique constraint: SQLite fails the statement and keeps the transaction.
      store.transaction(async (tx) => {
        await writes('c')(tx);
        await writes('a')(tx);
      }),
      store.transaction(async (tx) => (await writes('d')(tx), 'd')),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 'a' });
    expect(results[1]).toEqual({ status: 'rejected', reason: refused });
    expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
    expect(results[3]).toEqual({ status: 'fulfilled', value: 'd' });
    expect(commits() - before).toBe(1);
    expect(await idsIn(db)).toEqual(['a', 'd']);
  });

  it('runs a transaction asked for inside a job as a savepoint of its own', async () => {
    const { store, db } = opened;
    await store.transaction(async (tx) => {
      await writes('a')(tx);
      await expect(tx.transaction(async (inner) => (await writes('b')(inner), Promise.reject(new Error('inner'))))).rejects.toThrow('inner');
      await tx.transaction(writes('c'));
    });
    expect(await idsIn(db)).toEqual(['a', 'c']);
  });
});

const withSmallDisk = testEngine() === 'sqlite' && canMountSmallDisk ? describe : describe.skip;

withSmallDisk('group commit on a full disk', () => {
  let disk: SmallDisk;
  let opened: Awaited<ReturnType<typeof openCounted>>;

  beforeEach(async () => {
    disk = makeSmallDisk('threepid-group-commit-full-');
    opened = await openCounted(path.join(disk.root, 'threepid.sqlite'));
  });

  afterEach(async () => {
    await opened.db.destroy();
    disk.release();
  });

  it('answers no job of a group whose COMMIT fails: each fails with the store error, and none of their rows is kept', async () => {
    const { store, db } = opened;
    const filler = path.join(disk.root, 'filler');
    fillUp(filler);
    const payload = 'x'.repeat(20_000);
    const settled: string[] = [];
    const jobs = ['a', 'b', 'c'].map((id) =>
      store
        .transaction((tx) => tx.outbox.enqueue({ id, channel: 'email', payload, now: 1 }))
        .then(() => settled.push(`${id} answered`), (err: unknown) => settled.push(`${id} failed: ${err instanceof StoreUnavailable ? err.reason : String(err)}`)),
    );
    await Promise.all(jobs);
    expect(settled.sort()).toEqual(['a failed: full', 'b failed: full', 'c failed: full']);

    rmSync(filler);
    expect(await idsIn(db)).toEqual([]);
    await store.transaction(writes('after'));
    expect(await idsIn(db)).toEqual(['after']);
  });
});
