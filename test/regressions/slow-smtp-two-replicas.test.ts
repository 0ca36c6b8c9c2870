// Regression: a replica claimed a batch of up to 50 messages under one lease
// and sent them through 4 SMTP connections. With a slow SMTP server the later
// messages outlived their lease, the other (healthy) replica claimed them too,
// and both sent them: 40 requests gave 64 deliveries. Now a replica claims
// only what it sends at once, each send has a deadline shorter than the
// lease, and a "sent" mark is written under the claim that holds the message.
//
// The margins are what a loaded machine needs (the SMTP server and both
// replicas share one event loop here): the send deadline is well above the
// server's delay, so a healthy send is never cut after the server took it,
// and the lease well above the deadline, so the work around a send (reading
// the claim, rendering, writing the outcome) never outlives it. The old
// defect still shows: 50 messages a replica, 4 at a time, 1.5 s each, is
// 18.75 s of sending under one lease of 15 s (as 20 messages under 6 s was).
import path from 'node:path';
import { eventually } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { testEngine } from '../support/postgres';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const REQUESTS = 100;
const OUTBOX_KEY = `replicas:${Buffer.alloc(32, 7).toString('base64')}`;

(testEngine() === 'postgres' ? it : it.skip)('two healthy replicas and a slow SMTP server: 100 requests give exactly 100 deliveries', async () => {
  const dir = tempDir('threepid-slow-smtp-');
  const dbPath = path.join(dir, 'shared.sqlite');
  let smtp: SmtpSink | undefined;
  const replicas: Running[] = [];
  try {
    smtp = await startSmtpSink({ answerAfterMs: 1_500 });
    const config = {
      database: { path: dbPath },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      outbox: { lease: '15s', send_timeout: '10s', concurrency: 4, keys: [OUTBOX_KEY] },
    };
    replicas.push(await startModule(config), await startModule(config));
    await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const res = await post(`${replicas[i % 2].url}/_matrix/client/v3/register/email/requestToken`, {
          client_secret: `slow${i}`,
          email: `slow${i}@example.org`,
          send_attempt: 1,
        });
        expect(res.status).toBe(200);
      }),
    );
    const sent = () => replicas.reduce((sum, replica) => sum + replica.module.deliveryCounts.sent, 0);
    const addresses = () => smtp!.messages.flatMap((mail) => mail.to);
    await eventually(() => sent() >= REQUESTS && new Set(addresses()).size === REQUESTS, 'every message to arrive and be recorded sent', 90_000);
    // On a failure, the outcomes and lost leases say which way a second copy came:
    // a send cut at its deadline (retried) or a lease that ran out.
    const lostLeases = await Promise.all(
      replicas.map(async (replica) =>
        (await replica.module.metrics.registry.getSingleMetricAsString('threepid_outbox_lost_leases_total'))
          .split('\n')
          .filter((line) => line.startsWith('threepid_outbox_lost_leases_total{')),
      ),
    );
    const outcomes = replicas.map((replica) => ({ ...replica.module.deliveryCounts }));
    expect({ deliveries: addresses().length, outcomes, lostLeases }).toMatchObject({ deliveries: REQUESTS });
    // No lease ran out: the counter each replica exposes has nothing in it.
    expect(lostLeases).toEqual([[], []]);
  } finally {
    for (const replica of replicas) await replica.close();
    await smtp?.close();
    removeDir(dir);
  }
}, 180_000);
