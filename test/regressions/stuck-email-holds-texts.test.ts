// Regression: email and SMS shared one queue, the worker waited for a whole
// batch before claiming more, and SMTP had only inactivity timeouts. An SMTP
// server that took DATA and never answered held every text behind the email
// for 30 s; one that trickled a byte every few seconds held them for good.
// Now each channel claims and sends on its own, and every send has a
// deadline (outbox.send_timeout) after which its connection is dropped and
// the message retried.
import path from 'node:path';
import { eventually, queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { startSmsGateway, twilioSmsConfig } from '../support/sms-gateway';
import { startStallingSmtp } from '../support/stalling-smtp';

interface Row {
  status: string;
  attempts: number;
  last_error: string | null;
}

describe.each(['stall', 'trickle'] as const)('an SMTP server that takes DATA and then does not answer (%s)', (mode) => {
  it('delivers a text queued after the stuck email at once, and retries the email after its deadline', async () => {
    const smtp = await startStallingSmtp(mode, 1_000);
    const gateway = await startSmsGateway();
    const dir = tempDir();
    const dbPath = path.join(dir, 'threepid.sqlite');
    const hs = await startModule({
      database: { path: dbPath },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      sms: twilioSmsConfig(gateway.url),
      outbox: { send_timeout: '10s', lease: '15s' },
    });
    const emailRow = async () =>
      (await queryDb<Row>(dbPath, "SELECT status, attempts, last_error FROM threepid_outbox WHERE channel = 'email'"))[0];
    try {
      const email = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'stuck', email: 'stuck@example.org', send_attempt: 1 });
      expect(email.status).toBe(200);
      await eventually(() => smtp.stalled === 1, 'the email to be stuck after DATA');

      const text = await post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, {
        client_secret: 'text',
        country: 'FR',
        phone_number: '06 12 34 56 78',
        send_attempt: 1,
      });
      expect(text.status).toBe(200);
      expect(await gateway.codeTo('+33612345678')).toMatch(/^\d{6}$/);
      // The text went out while the email was still stuck: its send has not ended.
      expect(smtp.dropped).toBe(0);
      expect(await emailRow()).toMatchObject({ status: 'pending', attempts: 0 });

      // At its deadline the email's connection is dropped, the attempt counted, and the email tried again.
      await eventually(() => smtp.dropped === 1, 'the stuck connection to be dropped at the deadline', 30_000);
      await eventually(async () => Number((await emailRow()).attempts) === 1, 'the attempt to be recorded');
      expect(await emailRow()).toMatchObject({ status: 'pending', last_error: expect.stringContaining('did not end within') });
      await eventually(() => smtp.stalled === 2, 'the email to be tried again after its backoff', 30_000);
    } finally {
      await smtp.close();
      await hs.close();
      await gateway.close();
      removeDir(dir);
    }
  }, 90_000);
});
