/**
 * PostgreSQL stopped while the sidecar is idle (its pool holding idle
 * connections), then started again: meanwhile requests fail with
 * `503 M_UNKNOWN` and Retry-After, `/ready` answers 503 and `/health` 200,
 * the process keeps running, and it recovers by itself once PostgreSQL is
 * back. A fault-injection probe found this to hold; this keeps it held.
 *
 * The real sidecar process, on a PostgreSQL server of this test's own (the
 * shared one is never stopped). Run once, in the postgres project.
 */
import { eventually } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { startPostgresServer, testEngine, type PostgresServer } from '../support/postgres';
import { requestEmailToken, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';

const onPostgres = testEngine() === 'postgres' ? it : it.skip;

let pg: PostgresServer | undefined;
let sidecar: SidecarProcess | undefined;
let dir: string;

beforeEach(() => {
  dir = tempDir('threepid-pg-stopped-');
});

afterEach(async () => {
  await sidecar?.stop();
  pg?.stop();
  removeDir(dir);
});

/** A failing run must not wait for the test's timeout: no answer here ever takes this long. */
const GIVE_UP = () => AbortSignal.timeout(60_000);

const requestToken = (email: string) => requestEmailToken(sidecar!, email, `secret-${email.split('@')[0]}`, GIVE_UP());

const statusOf = (path: string) => fetch(`${sidecar!.internalUrl}${path}`, { signal: GIVE_UP() }).then((res) => res.status);

onPostgres('fails requests with 503 and /ready with 503 while PostgreSQL is stopped, and recovers by itself', async () => {
  pg = await startPostgresServer();
  // The pool's own settings: a stopped server refuses connections, so no timeout is needed to notice.
  sidecar = await startSidecarProcess(dir, {
    database: { engine: 'postgres', url: pg.url },
  });
  // Connections in the pool, idle when the server goes away.
  expect((await requestToken('before@example.org')).status).toBe(200);
  expect(await statusOf('/ready')).toBe(200);

  await pg.halt();
  try {
    const during = await requestToken('during@example.org');
    expect(during).toMatchObject({ status: 503, body: { errcode: 'M_UNKNOWN' }, retryAfter: expect.stringMatching(/^\d+$/) });
    expect(await statusOf('/ready')).toBe(503);
    expect(await statusOf('/health')).toBe(200);
    expect(sidecar.running()).toBe(true);
  } finally {
    await pg.start();
  }

  await eventually(async () => (await requestToken('after@example.org')).status === 200, 'requestToken to succeed again', 30_000);
  await eventually(async () => (await statusOf('/ready')) === 200, '/ready to answer 200 again', 30_000);
  expect(sidecar.running()).toBe(true);
  expect(sidecar.output()).not.toMatch(/Unhandled 'error' event/);
}, 120_000);
