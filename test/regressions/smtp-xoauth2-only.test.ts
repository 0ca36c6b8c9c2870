/**
 * An SMTP server that offers only `AUTH XOAUTH2`, with `email.smtp_user` and
 * `smtp_pass` set: nodemailer picked XOAUTH2 with no OAuth2 provider and
 * threw a TypeError out of its socket's handler. The SMTP thread died with
 * each attempt, and after three such deaths SMTP moved onto the main
 * thread, where the next attempt's TypeError ended the whole process.
 * Now each attempt fails as a login refused (retried, as a 535 is, so mail
 * waits until the server or the config is fixed), with a reason that says
 * why, and the thread keeps sending.
 */
import path from 'node:path';
import { eventually, queryDb } from '../support/e2e-utils';
import { CapturingLogger, post, removeDir, startModule, tempDir } from '../support/harness';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const SMTP_USER = 'threepid-mailer';
const SMTP_PASS = 'smtp-password-never-logged-4Rt';
const REASON = 'the SMTP server offers no login method this module can use (it offers XOAUTH2)';

it('records the reason on each retry, keeps the thread and process up, and sends once the server offers a usable login', async () => {
  const dir = tempDir();
  const dbPath = path.join(dir, 'threepid.sqlite');
  const logger = new CapturingLogger();
  let sink: SmtpSink = await startSmtpSink({ auth: { user: SMTP_USER, pass: SMTP_PASS }, authMethods: ['XOAUTH2'] });
  const port = sink.port;
  const hs = await startModule(
    { database: { path: dbPath }, email: { smtp_host: '127.0.0.1', smtp_port: port, smtp_user: SMTP_USER, smtp_pass: SMTP_PASS } },
    { logger },
  );
  const attempts = async () =>
    (await queryDb<{ status: string; attempts: number; last_error: string | null }>(dbPath, 'SELECT status, attempts, last_error FROM threepid_outbox'))[0];
  try {
    const res = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'xoauth-secret', email: 'alice@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    // More attempts than the thread was allowed deaths before SMTP moved onto the main thread.
    for (let attempt = 1; attempt <= 4; attempt++) {
      if (attempt > 1) hs.module.flushOutbox();
      const row = await eventually(async () => {
        const current = await attempts();
        return Number(current?.attempts) >= attempt ? current : undefined;
      }, `attempt ${attempt} recorded`, 15_000);
      expect(row).toMatchObject({ status: 'pending', last_error: REASON });
    }
    expect(logger.lines.filter((line) => /SMTP thread/.test(line.message ?? ''))).toEqual([]);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'delivery failed; will retry', fields: expect.objectContaining({ reason: REASON }) }));
    expect((await fetch(`${hs.internalUrl}/ready`)).status).toBe(200);

    // The server now offers a login the module can use: the same thread sends the message.
    await sink.close();
    sink = await startSmtpSink({ port, auth: { user: SMTP_USER, pass: SMTP_PASS } });
    hs.module.flushOutbox();
    const [mail] = await sink.waitFor(1, 15_000);
    expect(mail.to).toEqual(['alice@example.org']);
    await eventually(async () => (await attempts())?.status === 'sent', 'the message recorded as sent');
    expect(logger.lines.filter((line) => /SMTP thread/.test(line.message ?? ''))).toEqual([]);
    const logged = logger.text();
    for (const secret of [SMTP_PASS, Buffer.from(SMTP_PASS).toString('base64'), Buffer.from(`\0${SMTP_USER}\0${SMTP_PASS}`).toString('base64')]) {
      expect(logged).not.toContain(secret);
    }
  } finally {
    await hs.close();
    await sink.close();
    removeDir(dir);
  }
}, 60_000);
