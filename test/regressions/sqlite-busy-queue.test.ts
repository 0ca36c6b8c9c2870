// Regression: while another process held SQLite's write lock, a request
// waiting for it held Kysely's single connection for its whole wait, and the
// requests behind it each got their own full `database.busy_timeout` only
// once they reached the connection: with a 1 s timeout, five concurrent
// requests answered 503 after 1, 2, 3, 4 and 5 s, and a `/ready` sent after
// them waited its turn (4.7 s) to answer 200 while every write was failing.
// Now a query's wait counts from when it was issued and lets go of the
// connection between tries, so each request answers within the timeout of
// its arrival and reads do not queue behind the waiters; and `/ready`
// answers 503 with the reason once writes fail for the lock.
//
// The real sidecar process, and a real second process in BEGIN IMMEDIATE.
import path from 'node:path';
import { eventually } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { holdSqliteWriteLock, type SqliteLockHolder } from '../support/sqlite-lock';

const BUSY_TIMEOUT_MS = 3_000;

let dir: string;
let sidecar: SidecarProcess | undefined;
let holder: SqliteLockHolder | undefined;

beforeEach(() => {
  dir = tempDir('threepid-busy-queue-');
});

afterEach(async () => {
  await holder?.release();
  await sidecar?.stop();
  removeDir(dir);
});

let sent = 0;
async function requestToken(): Promise<number> {
  const n = sent++;
  const res = await fetch(`${sidecar!.url}/_matrix/client/v3/register/email/requestToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_secret: `busy-queue-secret-${n}`, email: `busy-queue-${n}@example.org`, send_attempt: 1 }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function ready() {
  const res = await fetch(`${sidecar!.internalUrl}/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
}

const WAITING = /another connection holds the SQLite write lock/;

it('answers every request waiting behind a locked database within busy_timeout of its arrival, and /ready meanwhile', async () => {
  sidecar = await startSidecarProcess(dir, {
    database: { path: path.join(dir, 'threepid.sqlite'), busy_timeout: `${BUSY_TIMEOUT_MS}ms` },
    rc_3pid_validation: { per_second: 10_000, burst_count: 10_000 },
  });
  holder = await holdSqliteWriteLock(path.join(dir, 'threepid.sqlite'));

  const started = performance.now();
  let writesAnswered = 0;
  const writes = Promise.all(
    Array.from({ length: 5 }, async () => {
      const status = await requestToken();
      writesAnswered++;
      return { status, answeredAfterMs: performance.now() - started };
    }),
  );
  await eventually(() => WAITING.test(sidecar!.output()), 'the sidecar to wait for the lock', 30_000);
  // Reads do not queue behind the writes waiting for the lock.
  expect(await ready()).toMatchObject({ status: 200 });
  expect(writesAnswered).toBe(0);

  const answers = await writes;
  expect(answers.map((answer) => answer.status)).toEqual([503, 503, 503, 503, 503]);
  // Loose on purpose: waiting in turn, the fifth answered after 5 x busy_timeout.
  for (const answer of answers) expect(answer.answeredAfterMs).toBeLessThan(2 * BUSY_TIMEOUT_MS);

  // While the lock is still held past the timeout, /ready says so, and does
  // not wait behind a write that is waiting for the lock.
  let lateWriteAnswered = false;
  const lateWrite = requestToken().then((status) => ((lateWriteAnswered = true), status));
  expect(await ready()).toMatchObject({ status: 503, body: { status: 'database cannot write', reason: expect.stringMatching(/SQLITE_BUSY/) } });
  expect(lateWriteAnswered).toBe(false);
  expect(await lateWrite).toBe(503);

  await holder.release();
  await eventually(async () => (await requestToken()) === 200, 'requests to succeed once the lock is free', 30_000);
  expect(await ready()).toMatchObject({ status: 200, body: { status: 'ready' } });
}, 90_000);
