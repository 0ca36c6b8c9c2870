// Regression: PostgreSQL restarting (`pg_ctl -m fast restart`) while
// requests were in flight ended the sidecar with "Unhandled 'error' event …
// 57P01 terminating connection due to administrator command". pg-pool
// listens for a client's errors only while the client is idle, and a client
// checked out for a transaction emitted its error to nobody. Now each client
// has a listener of its own, requests caught by the restart answer
// `503 M_UNKNOWN` with Retry-After, later ones succeed, and every request
// answered 200 has its email delivered.
//
// The real sidecar process, on a PostgreSQL server of this test's own (the
// shared one other tests use is never restarted).
import { eventually } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { startPostgresServer, type PostgresServer } from '../support/postgres';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

let pg: PostgresServer;
let smtp: SmtpSink;
let sidecar: SidecarProcess | undefined;
let dir: string;

beforeAll(async () => {
  pg = await startPostgresServer();
  smtp = await startSmtpSink();
}, 60_000);

afterAll(async () => {
  await smtp?.close();
  pg?.stop();
});

beforeEach(() => {
  dir = tempDir('threepid-pg-restart-');
});

afterEach(async () => {
  await sidecar?.stop();
  removeDir(dir);
});

interface Answer {
  readonly email: string;
  readonly status: number;
  readonly errcode?: string;
  readonly retryAfter: string | null;
}

async function requestToken(email: string): Promise<Answer> {
  const res = await fetch(`${sidecar!.url}/_matrix/client/v3/register/email/requestToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_secret: `secret-${email.split('@')[0]}`, email, send_attempt: 1 }),
  });
  const body = (await res.json()) as { errcode?: string };
  return { email, status: res.status, errcode: body.errcode, retryAfter: res.headers.get('retry-after') };
}

it('survives a restart of PostgreSQL under load: 503 meanwhile, 200 after, and every 200 has its email', async () => {
  sidecar = await startSidecarProcess(dir, {
    database: { engine: 'postgres', url: pg.url },
    email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
    rc_3pid_validation: { per_second: 10_000, burst_count: 10_000 },
  });
  const answers: Answer[] = [];
  let sent = 0;
  let stopped = false;
  // Four clients, each with one request in flight at all times.
  const client = async (id: number) => {
    while (!stopped && sidecar!.running()) {
      const email = `restart-${id}-${sent++}@example.org`;
      answers.push(await requestToken(email).catch(() => ({ email, status: 0, retryAfter: null })));
    }
  };
  const clients = [0, 1, 2, 3].map(client);
  try {
    await eventually(() => answers.filter((a) => a.status === 200).length >= 20, 'requests answered before the restart', 20_000);
    const before = answers.length;
    await pg.restart();
    // Enough requests after the restart to be sure the pool got going again.
    await eventually(
      () => !sidecar!.running() || answers.slice(before).filter((a) => a.status === 200).length >= 20,
      'requests answered 200 after the restart',
      30_000,
    );
  } finally {
    stopped = true;
    await Promise.all(clients);
  }

  expect(sidecar.output()).not.toMatch(/Unhandled 'error' event/);
  expect(sidecar.running()).toBe(true);
  // The restart reached requests in flight (else the test proved nothing), and they answered a Matrix error.
  const failed = answers.filter((a) => a.status !== 200);
  for (const answer of failed) expect(answer).toMatchObject({ status: 503, errcode: 'M_UNKNOWN', retryAfter: expect.stringMatching(/^\d+$/) });
  expect(sidecar.output()).toMatch(/57P01|Connection terminated/);

  const succeeded = answers.filter((a) => a.status === 200);
  for (const { email } of succeeded) await smtp.nthTo(email, 1, 30_000);
}, 120_000);
