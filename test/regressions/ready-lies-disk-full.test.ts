// Regression: on a disk still full, `/ready` went back to 200 while every
// request that had to write answered 503. Any statement that reported
// affected rows outside a transaction cleared the recorded failure, even
// one that changed none, and so did any COMMIT: better-sqlite3 reports the
// previous statement's count for it, so a read-only IMMEDIATE transaction
// (an empty outbox claim) counted as a write (PostgreSQL's side matched
// COMMIT by its text alike). A repeated requestToken, which has nothing new
// to write, was enough. Now only a statement, or a committed transaction,
// that changed rows clears it (or the 30 s hold with no write at all).
//
// The real sidecar process, its database on a real small file system (a
// tmpfs of its own, which needs root), filled up by a file beside it; and
// the same rule on the store of each engine, with the failure put on record.
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase, type OpenDatabase } from '../../src/store/database';
import { StoreUnavailable } from '../../src/model';
import { eventually } from '../support/e2e-utils';
import { postgresDatabaseFor, testEngine } from '../support/postgres';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { canMountSmallDisk, fillUp, makeSmallDisk, type SmallDisk } from '../support/small-disk';

// The sidecar brings its own SQLite file: once, on the sqlite project.
const fillsADisk = canMountSmallDisk && testEngine() === 'sqlite';

let disk: SmallDisk;
let dir: string;
let small: string;
let sidecar: SidecarProcess | undefined;
let opened: OpenDatabase | undefined;

beforeEach(() => {
  disk = makeSmallDisk('threepid-ready-full-', fillsADisk);
  ({ dir, root: small } = disk);
});

afterEach(async () => {
  await sidecar?.stop();
  await opened?.db.destroy();
  disk.release();
});

let sent = 0;
async function requestToken(secret = `ready-full-secret-${sent}`, email = `ready-full-${sent++}@example.org`): Promise<number> {
  const res = await fetch(`${sidecar!.url}/_matrix/client/v3/register/email/requestToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_secret: secret, email, send_attempt: 1 }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Whether the outbox of the database at `file` has no message left to send; read over a connection of its own. */
function nothingToSend(file: string): boolean {
  const reader = new BetterSqlite3(file, { readonly: true });
  try {
    return reader.prepare(`select count(*) from threepid_outbox where status = 'pending'`).pluck().get() === 0;
  } finally {
    reader.close();
  }
}

/** Copies the write-ahead log of the database at `file` into it, and truncates the log. */
function emptyTheLog(file: string): void {
  const writer = new BetterSqlite3(file);
  try {
    expect(writer.pragma('wal_checkpoint(TRUNCATE)', { simple: false })).toEqual([{ busy: 0, log: 0, checkpointed: 0 }]);
  } finally {
    writer.close();
  }
}

const ready = async () => (await fetch(`${sidecar!.internalUrl}/ready`)).status;

(fillsADisk ? it : it.skip)('keeps /ready at 503 while the disk is full, whatever succeeds without writing', async () => {
  sidecar = await startSidecarProcess(dir, {
    database: { path: path.join(small, 'threepid.sqlite') },
    rc_3pid_validation: { per_second: 10_000, burst_count: 10_000 },
  });
  expect(await requestToken('first', 'first@example.org')).toBe(200);
  // Nothing left to write in the background (sending a message writes, and
  // may fit: a real write, which rightly clears the failure), and an empty
  // write-ahead log, so that the next write needs room the disk lacks.
  const file = path.join(small, 'threepid.sqlite');
  await eventually(() => nothingToSend(file), 'the outbox to send the first message', 30_000);
  emptyTheLog(file);
  fillUp(path.join(small, 'filler'));
  await eventually(async () => (await requestToken()) !== 200, 'a request the full disk refuses', 30_000);
  expect(await ready()).toBe(503);

  // Each round: the first request again (same secret and send_attempt:
  // nothing new to write), /ready, then a new request, which must write.
  const rounds: Array<{ repeat: number; ready: number; newRequest: number }> = [];
  for (let i = 0; i < 5; i++) {
    const repeat = await requestToken('first', 'first@example.org');
    const readiness = await ready();
    rounds.push({ repeat, ready: readiness, newRequest: await requestToken() });
  }
  expect(rounds.filter((round) => round.ready === 200 && round.newRequest === 503)).toEqual([]);
}, 90_000);

it('clears a write failure only by a statement or committed transaction that changed rows', async () => {
  const file = path.join(dir, 'threepid.sqlite');
  opened = await openDatabase(
    testEngine() === 'postgres'
      ? { engine: 'postgres', url: await postgresDatabaseFor(file), maxConnections: 2, path: file, timeouts: { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, queryTimeoutMs: 10_000 } }
      : { engine: 'sqlite', path: file, busyTimeoutMs: 5_000 },
  );
  const { db, health } = opened;
  const row = { key: `ready-full-${testEngine()}-${Date.now()}`, tokens: 1, updated_at: 0 };
  await db.insertInto('threepid_rate_limits').values(row).execute();
  health!.failed(new StoreUnavailable('full', 'disk full'));

  await db.updateTable('threepid_rate_limits').set({ tokens: 2 }).where('key', '=', 'no such key').execute();
  await db.deleteFrom('threepid_rate_limits').where('key', '=', 'no such key').execute();
  // A read-only transaction, and one whose only write matched nothing: their COMMIT wrote nothing.
  await db.transaction().execute((trx) => trx.selectFrom('threepid_rate_limits').selectAll().execute());
  await db.transaction().execute((trx) => trx.updateTable('threepid_rate_limits').set({ tokens: 2 }).where('key', '=', 'no such key').execute());
  await sql`select 1`.execute(db);
  expect(health!.problem()).toBe('disk full');

  // A transaction that changed rows but rolled back did not write either.
  await expect(
    db.transaction().execute(async (trx) => {
      await trx.updateTable('threepid_rate_limits').set({ tokens: 3 }).where('key', '=', row.key).execute();
      throw new Error('rolled back');
    }),
  ).rejects.toThrow('rolled back');
  expect(health!.problem()).toBe('disk full');

  await db.transaction().execute((trx) => trx.updateTable('threepid_rate_limits').set({ tokens: 4 }).where('key', '=', row.key).execute());
  expect(health!.problem()).toBeUndefined();

  health!.failed(new StoreUnavailable('full', 'disk full'));
  await db.insertInto('threepid_rate_limits').values({ ...row, key: `${row.key}-2` }).returning('key').execute();
  expect(health!.problem()).toBeUndefined();
});
