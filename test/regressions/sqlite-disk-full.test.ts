// Regression: with the SQLite file's disk full, requests failed with a bare
// 500, `/ready` said 200 throughout (its check, `SELECT 1`, only reads), and
// every failure was logged as "cannot rollback - no transaction is active":
// SQLite had already rolled the transaction back on SQLITE_FULL, and Kysely's
// own rollback's error replaced the real one. Now a request that cannot be
// written answers 503 M_UNKNOWN with Retry-After, the log names SQLITE_FULL,
// `/ready` answers 503 with the reason, and all of it recovers by itself
// once there is room again.
//
// The real sidecar process, its database on a real small file system (a
// tmpfs of its own, which needs root), filled up by a file beside it.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { eventually } from '../support/e2e-utils';
import { requestEmailToken, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { canMountSmallDisk, fillUp, makeSmallDisk, type SmallDisk } from '../support/small-disk';

let disk: SmallDisk;
let dir: string;
let small: string;
let sidecar: SidecarProcess | undefined;

beforeEach(() => {
  disk = makeSmallDisk('threepid-full-', canMountSmallDisk);
  ({ dir, root: small } = disk);
});

afterEach(async () => {
  await sidecar?.stop();
  disk.release();
});

let sent = 0;
function requestToken() {
  const n = sent++;
  return requestEmailToken(sidecar!, `full-${n}@example.org`, `full-secret-${n}`);
}

async function ready() {
  const res = await fetch(`${sidecar!.internalUrl}/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
}

(canMountSmallDisk ? it : it.skip)('answers 503 and says so in /ready and the log while the disk is full, and recovers once it has room', async () => {
  sidecar = await startSidecarProcess(dir, {
    database: { path: path.join(small, 'threepid.sqlite') },
    rc_3pid_validation: { per_second: 10_000, burst_count: 10_000 },
  });
  expect((await requestToken()).status).toBe(200);

  const filler = path.join(small, 'filler');
  fillUp(filler);
  // A write may still fit in pages the files already have; each request adds more.
  const refused = await eventually(async () => {
    const answer = await requestToken();
    return answer.status === 200 ? undefined : answer;
  }, 'a request the full disk refuses', 30_000);
  expect(refused).toMatchObject({ status: 503, body: { errcode: 'M_UNKNOWN' }, retryAfter: expect.stringMatching(/^\d+$/) });
  expect(await ready()).toMatchObject({ status: 503, body: { status: 'database cannot write', reason: expect.stringMatching(/SQLITE_FULL/) } });
  expect(sidecar.output()).toMatch(/SQLITE_FULL/);
  expect(sidecar.output()).not.toMatch(/cannot rollback/);

  rmSync(filler);
  await eventually(async () => (await requestToken()).status === 200, 'requests to succeed again', 30_000);
  expect(await ready()).toMatchObject({ status: 200, body: { status: 'ready' } });
  expect(sidecar.running()).toBe(true);
}, 90_000);
