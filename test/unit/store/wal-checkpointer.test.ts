import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { openSqliteDatabase } from '../../../src/store/database';
import { WAL_SIZE_LIMIT_BYTES, WalCheckpointer, type CheckpointResult } from '../../../src/store/wal-checkpointer';
import { eventually } from '../../support/e2e-utils';

describe('WalCheckpointer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'threepid-wal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function openWal(file: string): BetterSqlite3.Database {
    const connection = new BetterSqlite3(file);
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    return connection;
  }

  it('turns off checkpoints inside commits and runs them on its own thread', async () => {
    const file = path.join(dir, 'db.sqlite');
    const connection = openWal(file);
    const checkpointer = new WalCheckpointer(connection, file, { intervalMs: 20 });
    try {
      expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      const results: CheckpointResult[] = [];
      checkpointer.onCheckpoint((result) => results.push(result));
      // Well over SQLite's 1,000-page threshold, one commit per row as requests would.
      const insert = connection.prepare('INSERT INTO t (body) VALUES (?)');
      for (let i = 0; i < 1_500; i++) insert.run('x'.repeat(3_000));
      // The writer never checkpoints (autocheckpoint is off), so rows that
      // reach the database file itself were moved there by the thread. (A
      // checkpoint may run while the rows are still being written: the file
      // holds them all only after a later one.)
      await eventually(() => statSync(file).size > 1_500 * 3_000, 'every row checkpointed into the database file');
      await eventually(() => results.some((r) => r.log > 0 && r.checkpointed === r.log), 'the thread to report a whole checkpoint');
      expect(checkpointer.inline).toBe(false);
    } finally {
      await checkpointer.stop();
      connection.close();
    }
  });

  it('has closed its connection when stop() returns: the writer, closed next, removes the log at once', async () => {
    const file = path.join(dir, 'db.sqlite');
    const connection = openWal(file);
    const checkpointer = new WalCheckpointer(connection, file, { intervalMs: 20 });
    connection.prepare('INSERT INTO t (body) VALUES (?)').run('x');
    await new Promise<void>((resolve) => checkpointer.onCheckpoint(() => resolve()));
    await checkpointer.stop();
    expect(existsSync(`${file}-wal`)).toBe(true); // the writer is still open
    connection.close();
    // Nothing left open on the file: a test (or an operator) can delete the folder now.
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(existsSync(`${file}-shm`)).toBe(false);
  });

  it('stays quiet while nothing is written: no message wakes the host thread', async () => {
    const file = path.join(dir, 'db.sqlite');
    const connection = openWal(file);
    const checkpointer = new WalCheckpointer(connection, file, { intervalMs: 10 });
    try {
      const results: CheckpointResult[] = [];
      checkpointer.onCheckpoint((result) => results.push(result));
      connection.prepare('INSERT INTO t (body) VALUES (?)').run('x');
      await eventually(() => results.some((r) => r.log > 0 && r.checkpointed === r.log), 'the write to be checkpointed');
      const before = results.length;
      // Idle: some fifty timer turns on the thread, and nothing to report.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(results.length).toBe(before);
      // And it wakes up again for the next write.
      connection.prepare('INSERT INTO t (body) VALUES (?)').run('y');
      await eventually(() => results.length > before, 'the next write to be checkpointed');
    } finally {
      await checkpointer.stop();
      connection.close();
    }
  });

  it('stops without parking the event loop while the thread closes', async () => {
    const file = path.join(dir, 'db.sqlite');
    const connection = openWal(file);
    const checkpointer = new WalCheckpointer(connection, file, { intervalMs: 20 });
    await new Promise<void>((resolve) => checkpointer.onCheckpoint(() => resolve()));
    // Stopping used to block the thread in Atomics.wait until the checkpoint
    // thread let go (up to 5 s): nothing else in the host ran meanwhile. It
    // now waits for the thread's exit event. (Whether that event comes
    // before or after a given turn of the loop is the scheduler's business,
    // so the test looks at the wait itself.)
    const wait = jest.spyOn(Atomics, 'wait');
    try {
      const stopping = checkpointer.stop();
      expect(stopping).toBeInstanceOf(Promise);
      await stopping;
      expect(wait).not.toHaveBeenCalled();
    } finally {
      wait.mockRestore();
    }
    connection.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it('cuts the log back to 4 MiB at the first commit after a burst was checkpointed', async () => {
    const file = path.join(dir, 'db.sqlite');
    const connection = openWal(file);
    const checkpointer = new WalCheckpointer(connection, file, { intervalMs: 20 });
    try {
      const results: CheckpointResult[] = [];
      checkpointer.onCheckpoint((result) => results.push(result));
      // One commit of ~12 MiB: the log has to hold all of it at once.
      const insert = connection.prepare('INSERT INTO t (body) VALUES (?)');
      connection.transaction(() => {
        for (let i = 0; i < 3_000; i++) insert.run('x'.repeat(4_000));
      })();
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(2 * WAL_SIZE_LIMIT_BYTES);
      await eventually(() => results.some((r) => r.log > 2_000 && r.checkpointed === r.log), 'the burst to be checkpointed');
      insert.run('after the burst');
      expect(WAL_SIZE_LIMIT_BYTES).toBe(4 * 1024 * 1024);
      expect(statSync(`${file}-wal`).size).toBeLessThanOrEqual(WAL_SIZE_LIMIT_BYTES);
    } finally {
      await checkpointer.stop();
      connection.close();
    }
  });

  it('gives checkpoints back to SQLite when its thread fails', async () => {
    const file = path.join(dir, 'db.sqlite');
    const connection = openWal(file);
    const reasons: string[] = [];
    // The thread cannot open a file in a folder that does not exist.
    const checkpointer = new WalCheckpointer(connection, path.join(dir, 'missing', 'db.sqlite'), { intervalMs: 20, onFallback: (reason) => reasons.push(reason) });
    try {
      await eventually(() => checkpointer.inline, 'the fallback to inline checkpoints');
      expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
      expect(reasons).toHaveLength(1);
    } finally {
      await checkpointer.stop();
      connection.close();
    }
  });

  it('is what openSqliteDatabase uses for a file, and the data is all there after close', async () => {
    const file = path.join(dir, 'module.sqlite');
    const db = await openSqliteDatabase(file);
    const autocheckpoint = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(db);
    expect(autocheckpoint.rows[0].wal_autocheckpoint).toBe(0);
    for (let i = 0; i < 200; i++) {
      await db
        .insertInto('threepid_rate_limits')
        .values({ key: `k${i}`, tokens: i, updated_at: i })
        .execute();
    }
    await db.destroy();
    const again = new BetterSqlite3(file, { readonly: true });
    try {
      expect(again.prepare('SELECT count(*) AS n FROM threepid_rate_limits').get()).toEqual({ n: 200 });
    } finally {
      again.close();
    }
  });
});
