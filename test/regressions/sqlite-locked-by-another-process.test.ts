// Regression: another process holding the SQLite write lock (a backup, an
// operator's sqlite3 shell) made requestToken fail at once with "database
// is locked" (500): the 5 s busy timeout never applied. Kysely began
// transactions DEFERRED, and SQLite fails a read transaction's upgrade to a
// writer at once (SQLITE_BUSY) rather than wait, which could deadlock.
// Transactions now begin IMMEDIATE, the wait for the lock happens between
// tries without blocking the event loop, and a wait that runs out of
// `database.busy_timeout` answers 503 M_UNKNOWN with Retry-After.
//
// The real sidecar process, and a real second process in BEGIN IMMEDIATE.
import path from 'node:path';
import { eventually } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { requestEmailToken, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { holdSqliteWriteLock, type SqliteLockHolder } from '../support/sqlite-lock';

let dir: string;
let sidecar: SidecarProcess | undefined;
let holder: SqliteLockHolder | undefined;

beforeEach(() => {
  dir = tempDir('threepid-locked-');
});

afterEach(async () => {
  await holder?.release();
  await sidecar?.stop();
  removeDir(dir);
});

const requestToken = (email: string) => requestEmailToken(sidecar!, email, 'locked-secret');

const WAITING = /another connection holds the SQLite write lock/;

it('waits for the other process to let go of the lock, and answers /health meanwhile', async () => {
  sidecar = await startSidecarProcess(dir, { database: { path: path.join(dir, 'threepid.sqlite'), busy_timeout: '60s' } });
  holder = await holdSqliteWriteLock(path.join(dir, 'threepid.sqlite'));
  const answer = requestToken('waits@example.org');
  await eventually(() => WAITING.test(sidecar!.output()), 'the sidecar to wait for the lock', 30_000);
  // The event loop is free while it waits.
  expect((await fetch(`${sidecar.internalUrl}/health`)).status).toBe(200);
  await holder.release();
  expect(await answer).toMatchObject({ status: 200, body: { sid: expect.any(String) } });
}, 60_000);

it('answers 503 M_UNKNOWN with Retry-After once busy_timeout runs out, and 200 once the lock is free', async () => {
  sidecar = await startSidecarProcess(dir, { database: { path: path.join(dir, 'threepid.sqlite'), busy_timeout: '200ms' } });
  holder = await holdSqliteWriteLock(path.join(dir, 'threepid.sqlite'));
  expect(await requestToken('gives-up@example.org')).toMatchObject({
    status: 503,
    body: { errcode: 'M_UNKNOWN' },
    retryAfter: expect.stringMatching(/^\d+$/),
  });
  // The log line and the answer travel apart (stdout, the socket): either may come first.
  await eventually(() => /SQLITE_BUSY/.test(sidecar!.output()), 'the log to name SQLITE_BUSY', 10_000);
  await holder.release();
  expect((await requestToken('gives-up@example.org')).status).toBe(200);
}, 60_000);
