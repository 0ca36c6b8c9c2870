// Regression: a checkpoint that met a full disk killed the WAL checkpoint
// thread for good. SQLite went back to checkpointing inside commits (on the
// event loop), and stayed there after space came back. The thread is now
// started again, with a growing delay, and takes checkpoints back once one
// succeeds. The disk is a real one: a 4 MiB tmpfs (mounting needs root,
// which the machines this suite runs on give).
import { rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { WalCheckpointer, type CheckpointResult } from '../../src/store/wal-checkpointer';
import { eventually } from '../support/e2e-utils';
import { makeSmallDisk } from '../support/small-disk';

const BLOB_BYTES = 600 * 1024;

it('restarts the checkpoint thread after a full disk killed it, once space is back', async () => {
  const disk = makeSmallDisk('threepid-full-disk-');
  const mount = disk.root;
  const file = path.join(mount, 'db.sqlite');
  const filler = path.join(mount, 'filler');
  const connection = new BetterSqlite3(file);
  const deaths: string[] = [];
  let recoveries = 0;
  let checkpointer: WalCheckpointer | undefined;
  try {
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    checkpointer = new WalCheckpointer(connection, file, {
      intervalMs: 20,
      restartDelayMs: 50,
      onFallback: (reason) => deaths.push(reason),
      onRecovery: () => (recoveries += 1),
    });
    const results: CheckpointResult[] = [];
    checkpointer.onCheckpoint((result) => results.push(result));
    await eventually(() => results.length > 0, 'a first checkpoint');

    // Leave room for the row's pages in the log, not for a second copy of
    // them in the database file: the checkpoint that copies them fails.
    const { bavail, bsize } = statfsSync(mount);
    writeFileSync(filler, Buffer.alloc(bavail * bsize - 2 * BLOB_BYTES + BLOB_BYTES / 2));
    connection.prepare('INSERT INTO t (body) VALUES (?)').run(randomBytes(BLOB_BYTES));
    await eventually(() => deaths.length > 0, 'the checkpoint thread to die on the full disk', 30_000);
    expect(deaths[0]).toMatch(/full/i);
    expect(checkpointer.inline).toBe(true);
    expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);

    rmSync(filler);
    const before = results.length;
    await eventually(() => recoveries > 0, 'the thread to be restarted once space is back', 60_000);
    await eventually(
      () => results.slice(before).some((r) => r.log > 0 && r.checkpointed === r.log),
      'the row to be checkpointed by the restarted thread',
      30_000,
    );
    expect(statSync(file).size).toBeGreaterThan(BLOB_BYTES);
    expect(checkpointer.inline).toBe(false);
    expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
  } finally {
    await checkpointer?.stop();
    connection.close();
    disk.release();
  }
}, 120_000);
