// Regression: across replicas, `sms.daily_limit` was a count and then an
// insert, each replica in its own transaction: requests arriving together
// all counted room for the last code, and all sent one.
import path from 'node:path';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { queryTestDatabase, testEngine } from '../support/postgres';
import { startSmsGateway, type SmsGateway } from '../support/sms-gateway';

const DAILY_LIMIT = 3;
const REQUESTS = 16;
const HIGH_LIMIT = { per_second: 1000, burst_count: 1000 };

// Two module instances on one PostgreSQL database, as two sidecar replicas
// are. SQLite is one process's store.
(testEngine() === 'postgres' ? describe : describe.skip)('the SMS daily cap across replicas', () => {
  let gateway: SmsGateway;
  let dir: string;
  const replicas: Running[] = [];

  beforeAll(async () => {
    gateway = await startSmsGateway();
    dir = tempDir();
    const raw = {
      // Each request from a client of its own: one shared per-IP bucket would line them up.
      trusted_proxies: ['127.0.0.1'],
      database: { path: path.join(dir, 'threepid.sqlite') },
      sms: {
        sender: 'http' as const,
        http: { url: `${gateway.url}/webhook` },
        daily_limit: DAILY_LIMIT,
        rc_per_number: HIGH_LIMIT,
        rc_per_prefix: HIGH_LIMIT,
        rc_per_ip: HIGH_LIMIT,
      },
    };
    replicas.push(await startModule(raw), await startModule(raw));
    // Every connection of both pools open beforehand, so the requests below
    // reach the database together instead of one connect after another.
    await Promise.all(replicas.flatMap((replica) => Array.from({ length: 10 }, () => replica.module.bindings.findUserId('msisdn', '1'))));
  });

  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await gateway.close();
    removeDir(dir);
  });

  it('never queues more codes than daily_limit, however the requests arrive', async () => {
    const ask = (i: number) =>
      post(`${replicas[i % replicas.length].url}/_matrix/client/v3/register/msisdn/requestToken`, {
        client_secret: `secret${i}`,
        country: 'US',
        phone_number: `21273650${String(i).padStart(2, '0')}`,
        send_attempt: 1,
      }, { 'x-forwarded-for': `198.51.100.${i + 1}` });
    const answers = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => ask(i)));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([...Array(DAILY_LIMIT).fill(200), ...Array(REQUESTS - DAILY_LIMIT).fill(429)]);
    const [queued] = await queryTestDatabase<{ count: string }>(
      path.join(dir, 'threepid.sqlite'),
      "SELECT count(*) AS count FROM threepid_outbox WHERE channel = 'sms'",
      [],
    );
    expect(Number(queued.count)).toBe(DAILY_LIMIT);
  });
});
