// Regression: a replica claimed a batch of up to 50 messages under one lease
// and sent them through 4 SMTP connections. With a slow SMTP server the later
// messages outlived their lease, the other (healthy) replica claimed them too,
// and both sent them: 40 requests gave 64 deliveries. Now a replica claims
// only what it sends at once, each send has a deadline shorter than the
// lease, and a "sent" mark is written under the claim that holds the message.
import path from 'node:path';
import { eventually } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { testEngine } from '../support/postgres';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const REQUESTS = 40;
const OUTBOX_KEY = `replicas:${Buffer.alloc(32, 7).toString('base64')}`;

(testEngine() === 'postgres' ? it : it.skip)('two healthy replicas and a slow SMTP server: 40 requests give exactly 40 deliveries', async () => {
  const dir = tempDir('threepid-slow-smtp-');
  const dbPath = path.join(dir, 'shared.sqlite');
  let smtp: SmtpSink | undefined;
  const replicas: Running[] = [];
  try {
    smtp = await startSmtpSink({ answerAfterMs: 1_500 });
    const config = {
      database: { path: dbPath },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      outbox: { lease: '6s', send_timeout: '5s', concurrency: 4, keys: [OUTBOX_KEY] },
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
    await eventually(() => sent() >= REQUESTS && new Set(addresses()).size === REQUESTS, 'every message to arrive and be recorded sent', 60_000);
    expect(addresses()).toHaveLength(REQUESTS);
    // No lease ran out: the counter each replica exposes has nothing in it.
    for (const replica of replicas) {
      const metrics = await replica.module.metrics.registry.getSingleMetricAsString('threepid_outbox_lost_leases_total');
      expect(metrics).not.toMatch(/^threepid_outbox_lost_leases_total\{/m);
    }
  } finally {
    for (const replica of replicas) await replica.close();
    await smtp?.close();
    removeDir(dir);
  }
}, 120_000);
