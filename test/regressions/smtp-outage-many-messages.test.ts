// Regression: with the SMTP server down, a failed connection was reported to
// the message but not to nodemailer's pool, so each pooled slot stayed taken.
// Once more messages than slots (4) were tried, the rest waited forever, the
// outbox round never ended, and nothing more was sent until a restart.
import path from 'node:path';
import { eventually, freePort, queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { startSmtpSink } from '../support/smtp';

it('tries every message while SMTP is down, and sends them all once it is back', async () => {
  const dir = tempDir();
  const dbPath = path.join(dir, 'threepid.sqlite');
  const smtpPort = await freePort(); // nothing listens there yet
  const hs = await startModule({ database: { path: dbPath }, email: { smtp_host: '127.0.0.1', smtp_port: smtpPort } });
  const addresses = Array.from({ length: 10 }, (_, i) => `outage${i}@example.org`);
  let sink: Awaited<ReturnType<typeof startSmtpSink>> | undefined;
  try {
    for (const [i, email] of addresses.entries()) {
      const res = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: `s${i}`, email, send_attempt: 1 });
      expect(res.status).toBe(200);
    }
    // Every one of them is tried and rescheduled, not only one per pooled connection.
    await eventually(async () => {
      const rows = await queryDb<{ n: number }>(dbPath, "SELECT count(*) AS n FROM threepid_outbox WHERE status = 'pending' AND attempts >= 1");
      return Number(rows[0].n) === addresses.length;
    }, 'all ten messages tried once', 10_000);

    sink = await startSmtpSink({ port: smtpPort });
    hs.module.flushOutbox();
    const mails = await sink.waitFor(addresses.length, 10_000);
    expect(mails.map((mail) => mail.to[0]).sort()).toEqual([...addresses].sort());
  } finally {
    await hs.close();
    await sink?.close();
    removeDir(dir);
  }
}, 30_000);
