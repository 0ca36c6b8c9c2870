// Regression: with PostgreSQL hanging (its postmaster and backends stopped
// with SIGSTOP: connections stay open, nothing answers), requestToken and
// `/ready` hung for as long as the database did, while `/health` answered
// 200. The pool had no connection, statement or query timeout. Now
// (`database.connect_timeout`, `statement_timeout`, `query_timeout`) a
// request fails with `503 M_UNKNOWN` and Retry-After, `/ready` answers 503,
// and both recover once the server runs again.
//
// The real sidecar process, on a PostgreSQL server of this test's own.
import { eventually } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { startPostgresServer, type PostgresServer } from '../support/postgres';
import { requestEmailToken, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';

let pg: PostgresServer;
let sidecar: SidecarProcess | undefined;
let dir: string;

beforeAll(async () => {
  pg = await startPostgresServer();
}, 60_000);

afterAll(() => pg?.stop());

beforeEach(() => {
  dir = tempDir('threepid-pg-hang-');
});

afterEach(async () => {
  await sidecar?.stop();
  removeDir(dir);
});

/** The hung request must end on its own; this only keeps a failing run from waiting for the test's timeout. */
const GIVE_UP = () => AbortSignal.timeout(60_000);

const requestToken = (email: string) => requestEmailToken(sidecar!, email, 'hang-secret', GIVE_UP());

const statusOf = (path: string) => fetch(`${sidecar!.internalUrl}${path}`, { signal: GIVE_UP() }).then((res) => res.status);

it('fails requests with 503 and answers /ready 503 while PostgreSQL hangs, and recovers after', async () => {
  sidecar = await startSidecarProcess(dir, {
    database: { engine: 'postgres', url: pg.url, connect_timeout: '1s', statement_timeout: '1s', query_timeout: '2s' },
  });
  // Connections in the pool: the hang catches some mid-use, not only new ones.
  expect((await requestToken('before@example.org')).status).toBe(200);
  expect(await statusOf('/ready')).toBe(200);

  pg.suspend();
  try {
    const during = await requestToken('during@example.org');
    expect(during).toMatchObject({ status: 503, body: { errcode: 'M_UNKNOWN' }, retryAfter: expect.stringMatching(/^\d+$/) });
    expect(await statusOf('/ready')).toBe(503);
    expect(await statusOf('/health')).toBe(200);
  } finally {
    pg.resume();
  }

  await eventually(async () => (await requestToken('after@example.org')).status === 200, 'requestToken to succeed again', 30_000);
  await eventually(async () => (await statusOf('/ready')) === 200, '/ready to answer 200 again', 30_000);
}, 120_000);
