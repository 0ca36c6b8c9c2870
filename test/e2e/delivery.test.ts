import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RawConfig } from '../../src/config';
import {
  CapturingLogger,
  FakeClock,
  post,
  removeDir,
  startModule,
  tempDir,
  type Running,
} from '../support/harness';
import { decodeHtmlEntities, eventually, freePort, queryDb, startSilentServer } from '../support/e2e-utils';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const PASSWORD = '/_matrix/client/v3/account/password/email/requestToken';

interface OutboxRow {
  status: string;
  attempts: number;
  payload: string | null;
  last_error: string | null;
}

describe('email delivery through the outbox', () => {
  let dir: string;
  let dbPath: string;
  const running: Running[] = [];
  const sinks: SmtpSink[] = [];

  type EmailConfig = Record<string, string | number | boolean>;
  const start = async (email: EmailConfig, extra: Parameters<typeof startModule>[1] = {}, raw: RawConfig = {}) => {
    const hs = await startModule({ ...raw, database: { path: dbPath }, email: { app_name: 'TestHS', ...email } as RawConfig['email'] }, extra);
    running.push(hs);
    return hs;
  };
  const sink = async (options: Parameters<typeof startSmtpSink>[0] = {}) => {
    const smtp = await startSmtpSink(options);
    sinks.push(smtp);
    return smtp;
  };
  const closeModule = async (hs: Running) => {
    running.splice(running.indexOf(hs), 1);
    await hs.close();
  };
  const outbox = () => queryDb<OutboxRow>(dbPath, 'SELECT status, attempts, payload, last_error FROM threepid_outbox');

  beforeEach(() => {
    dir = tempDir();
    dbPath = path.join(dir, 'threepid.sqlite');
  });

  afterEach(async () => {
    for (const hs of running.splice(0)) await hs.close();
    for (const smtp of sinks.splice(0)) await smtp.close();
    removeDir(dir);
  });

  it('answers requestToken 200 while the SMTP server hangs, before any delivery attempt has ended', async () => {
    const silent = await startSilentServer();
    try {
      const hs = await start({ smtp_host: '127.0.0.1', smtp_port: silent.port });
      const res = await post(hs.url + REGISTER, { client_secret: 'hang_1', email: 'hang@example.org', send_attempt: 1 });
      expect(res.status).toBe(200);
      expect(res.body.sid).toEqual(expect.any(String));
      // Had the handler waited for SMTP, the attempt would have ended (one way or another) first.
      expect(hs.module.deliveryCounts).toEqual({ sent: 0, retried: 0, failed: 0 });
      await eventually(() => silent.connections >= 1, 'the worker to connect to the SMTP server');
      expect(hs.module.deliveryCounts).toEqual({ sent: 0, retried: 0, failed: 0 });
      expect(await outbox()).toEqual([expect.objectContaining({ status: 'pending' })]);
    } finally {
      // Cut the hanging connection so the worker's round ends and the module can close.
      await silent.destroy();
    }
  });

  it('keeps a message through an SMTP outage and a restart, and delivers it once SMTP is back', async () => {
    const port = await freePort();
    const clock = new FakeClock();
    const first = await start({ smtp_host: '127.0.0.1', smtp_port: port }, { clock });
    const res = await post(first.url + REGISTER, { client_secret: 'outage_1', email: 'Outage@Example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    await eventually(() => first.module.deliveryCounts.retried >= 1, 'a failed attempt while SMTP is down');
    expect(first.module.deliveryCounts.sent).toBe(0);
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'pending', attempts: 1, payload: expect.any(String) })]);
    await closeModule(first);

    // SMTP comes back, on the same port; the process restarts on the same database, past the backoff.
    const smtp = await sink({ port });
    clock.advance(60_000);
    const second = await start({ smtp_host: '127.0.0.1', smtp_port: port }, { clock });
    const [mail] = await smtp.waitFor(1);
    expect(mail.to).toEqual(['outage@example.org']);
    const link = linkIn(mail);
    expect(link.searchParams.get('sid')).toBe(res.body.sid);
    await eventually(() => second.module.deliveryCounts.sent === 1, 'the delivery to be counted');
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'sent', payload: null })]);

    // The link from before the restart still validates the session.
    const confirmed = await fetch(new URL(link.pathname, second.url), { method: 'POST', body: link.searchParams });
    expect(confirmed.status).toBe(200);
    expect(smtp.messages).toHaveLength(1);
  });

  it('flushOutbox delivers a message held back by backoff as soon as SMTP is back', async () => {
    const port = await freePort();
    // The clock never moves: only the flush can make the held message go out.
    const hs = await start({ smtp_host: '127.0.0.1', smtp_port: port }, { clock: new FakeClock() });
    const res = await post(hs.url + REGISTER, { client_secret: 'flush_1', email: 'flush@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    await eventually(() => hs.module.deliveryCounts.retried >= 1, 'a failed attempt while SMTP is down');

    const smtp = await sink({ port });
    hs.module.flushOutbox();
    const [mail] = await smtp.waitFor(1, 5_000);
    expect(linkIn(mail).searchParams.get('sid')).toBe(res.body.sid);
    await eventually(() => hs.module.deliveryCounts.sent === 1, 'the delivery to be counted');
  });

  it('gives up on a permanently rejected message, counts it, and logs it without the token or the link', async () => {
    const smtp = await sink({ reject: 550 });
    const logger = new CapturingLogger();
    const hs = await start({ smtp_host: '127.0.0.1', smtp_port: smtp.port }, { logger });
    const clientSecret = 'permanent_rejection_secret_550';
    const res = await post(hs.url + REGISTER, { client_secret: clientSecret, email: 'bounce@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);

    await eventually(() => hs.module.deliveryCounts.failed === 1, 'the message to be given up on');
    expect(hs.module.deliveryCounts.retried).toBe(0);
    expect(hs.module.deliveryCounts.sent).toBe(0);
    expect(smtp.messages).toHaveLength(0);

    const errors = logger.lines.filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toContain('550');
    const logged = logger.text();
    expect(logged).not.toContain('token=');
    expect(logged).not.toContain(clientSecret);
    expect(logged).not.toContain('/validate');

    // The stored message keeps no payload (it held the token) once given up on.
    const [row] = await outbox();
    expect(row).toEqual(expect.objectContaining({ status: 'failed', attempts: 1, payload: null }));
    expect(row.last_error).not.toContain('token');
  });

  it('retries a temporarily rejected message and keeps it pending', async () => {
    const smtp = await sink({ reject: 451 });
    const logger = new CapturingLogger();
    const hs = await start({ smtp_host: '127.0.0.1', smtp_port: smtp.port }, { logger });
    const res = await post(hs.url + REGISTER, { client_secret: 'temp_451', email: 'later@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);

    await eventually(() => hs.module.deliveryCounts.retried >= 1, 'a retry to be scheduled');
    expect(hs.module.deliveryCounts.failed).toBe(0);
    expect(hs.module.deliveryCounts.sent).toBe(0);
    expect(smtp.messages).toHaveLength(0);
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'pending', payload: expect.any(String) })]);
    expect((await outbox())[0].last_error).toContain('451');
    expect(logger.lines.some((line) => line.level === 'warn' && line.message === 'delivery failed; will retry')).toBe(true);
    expect(logger.text()).not.toContain('token=');
    expect(logger.text()).not.toContain('temp_451');
  });

  it('never sends in clear text when require_transport_security is set and the server offers no STARTTLS', async () => {
    const smtp = await sink(); // the sink has STARTTLS disabled
    const logger = new CapturingLogger();
    const hs = await start({ smtp_host: '127.0.0.1', smtp_port: smtp.port, require_transport_security: true }, { logger });
    const res = await post(hs.url + REGISTER, { client_secret: 'tls_1', email: 'tls@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);

    const counts = hs.module.deliveryCounts;
    await eventually(() => counts.retried + counts.failed >= 1, 'the delivery attempt to fail');
    expect(counts.sent).toBe(0);
    expect(smtp.messages).toHaveLength(0);
    expect(logger.lines.some((line) => line.message === 'message delivered')).toBe(false);
  });

  it('takes a template from templates_dir and falls back to the shipped ones for the rest', async () => {
    const smtp = await sink();
    const templatesDir = path.join(dir, 'templates');
    mkdirSync(path.join(templatesDir, 'email'), { recursive: true });
    writeFileSync(path.join(templatesDir, 'email', 'registration.subject.txt'), 'Welcome to {{app_name}} on {{server_name}}\n');
    const hs = await start(
      { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      {},
      { server_name: 'example.org', templates_dir: templatesDir },
    );
    await hs.module.bindings.put('email', 'owner@example.org', '@owner:example.org');

    const register = await post(hs.url + REGISTER, { client_secret: 'tpl_1', email: 'new@example.org', send_attempt: 1 });
    expect(register.status).toBe(200);
    const [registration] = await smtp.waitFor(1);
    expect(registration.subject).toBe('Welcome to TestHS on example.org');
    // The bodies were not overridden: the shipped ones are used.
    expect(registration.text).toContain('Someone asked to register an account on example.org');
    expect(registration.html).toContain('Confirm my email address');

    const reset = await post(hs.url + PASSWORD, { client_secret: 'tpl_2', email: 'owner@example.org', send_attempt: 1 });
    expect(reset.status).toBe(200);
    const passwordMail = (await smtp.waitFor(2))[1];
    expect(passwordMail.subject).toBe('[TestHS] Password reset');

    // The link page still renders from the shipped templates.
    const page = await fetch(linkIn(registration).href.replace(/^http:\/\/[^/]+/, hs.url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post"');
  });

  it('sends each email with a plain-text and an HTML part carrying the same link', async () => {
    const smtp = await sink();
    const hs = await start({ smtp_host: '127.0.0.1', smtp_port: smtp.port, notif_from: 'TestHS <hs@example.org>' });
    const res = await post(hs.url + REGISTER, { client_secret: 'parts_1', email: 'parts@example.org', send_attempt: 1 });
    const [mail] = await smtp.waitFor(1);

    expect(mail.raw).toMatch(/Content-Type: multipart\/alternative/i);
    expect(mail.raw).toMatch(/Content-Type: text\/plain/i);
    expect(mail.raw).toMatch(/Content-Type: text\/html/i);
    expect(mail.subject).toBe('[TestHS] Confirm your email address');

    const link = linkIn(mail);
    expect(link.origin).toBe(hs.url);
    expect(link.pathname).toBe('/_threepid/client/v1/email/validate');
    expect(link.searchParams.get('sid')).toBe(res.body.sid);
    expect(link.searchParams.get('client_secret')).toBe('parts_1');
    expect(link.searchParams.get('token')).toMatch(/^[0-9a-zA-Z_-]{22,}$/);

    const href = /<a href="([^"]+)"/.exec(mail.html);
    expect(href).not.toBeNull();
    expect(decodeHtmlEntities(href![1])).toBe(link.href);
  });
});
