// An idempotent repeat of requestToken (the same client_secret, address and
// send_attempt) took SQLite's write lock for a transaction that wrote
// nothing: it cost a BEGIN IMMEDIATE and COMMIT, and while another process
// held the lock it waited and failed 503 like a real write. It is answered
// by a read alone now: the same sid at once, lock or no lock; a higher
// send_attempt still writes, and so still waits for the lock.
//
// The real sidecar process, and a real second process in BEGIN IMMEDIATE.
import path from 'node:path';
import { removeDir, tempDir } from '../support/harness';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { holdSqliteWriteLock, type SqliteLockHolder } from '../support/sqlite-lock';
import { testEngine } from '../support/postgres';

let dir: string;
let sidecar: SidecarProcess | undefined;
let holder: SqliteLockHolder | undefined;

afterEach(async () => {
  await holder?.release();
  await sidecar?.stop();
  removeDir(dir);
});

async function requestToken(sendAttempt: number): Promise<{ status: number; sid?: string }> {
  const res = await fetch(`${sidecar!.url}/_matrix/client/v3/register/email/requestToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_secret: 'repeat-secret', email: 'repeat@example.org', send_attempt: sendAttempt }),
  });
  return { status: res.status, sid: ((await res.json()) as { sid?: string }).sid };
}

(testEngine() === 'sqlite' ? it : it.skip)('answers a repeated requestToken while another process holds the write lock', async () => {
  dir = tempDir('threepid-repeat-read-');
  const file = path.join(dir, 'threepid.sqlite');
  sidecar = await startSidecarProcess(dir, { database: { path: file, busy_timeout: '500ms' } });
  const first = await requestToken(1);
  expect(first.status).toBe(200);

  holder = await holdSqliteWriteLock(file);
  expect(await requestToken(1)).toEqual(first);
  expect(await requestToken(0)).toEqual(first);
  // A new attempt must write: it waits for the lock, and gives up after busy_timeout.
  expect((await requestToken(2)).status).toBe(503);
});
