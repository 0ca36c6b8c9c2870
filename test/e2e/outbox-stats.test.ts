import path from 'node:path';
import { CapturingLogger, FakeClock, internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { eventually } from '../support/e2e-utils';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const EMAIL = '/_matrix/client/v3/register/email/requestToken';
const SMS = '/_matrix/client/v3/register/msisdn/requestToken';
const STATS = '/_threepid/v1/outbox/stats';
const MINUTE = 60_000;

/** The value of the `threepid_messages_total` series with exactly these labels, or undefined. */
function messagesTotal(metrics: string, labels: Record<string, string>): number | undefined {
  for (const line of metrics.split('\n')) {
    const match = /^threepid_messages_total\{([^}]*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const found = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
    if (JSON.stringify(Object.entries(found).sort()) === JSON.stringify(Object.entries(labels).sort())) return Number(match[2]);
  }
  return undefined;
}

describe('delivery status in the open: outbox stats, metrics by provider, and the line of a message given up on', () => {
  let dir: string;
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let clock: FakeClock;
  let logger: CapturingLogger;
  let hs: Running;

  beforeEach(async () => {
    dir = tempDir();
    smtp = await startSmtpSink({ reject: 550 });
    gateway = await startSmsGateway();
    clock = new FakeClock(Date.now());
    logger = new CapturingLogger();
    hs = await startModule(
      {
        database: { path: path.join(dir, 'threepid.sqlite') },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
        sms: twilioSmsConfig(gateway.url),
      },
      { clock, logger },
    );
  });

  afterEach(async () => {
    await hs.close();
    await smtp.close();
    await gateway.close();
    removeDir(dir);
  });

  const stats = async (authorization = `Bearer ${internalToken()}`) => {
    const response = await fetch(hs.internalUrl + STATS, { headers: { authorization } });
    return { status: response.status, body: await response.json() };
  };

  it('answers 401 M_UNAUTHORIZED without a valid token', async () => {
    for (const authorization of ['', 'Bearer not-a-jwt', `Bearer ${internalToken({}, 'another-secret-that-is-long-enough-0123456789')}`]) {
      expect(await stats(authorization)).toEqual({ status: 401, body: { errcode: 'M_UNAUTHORIZED', error: expect.any(String) } });
    }
  });

  it('counts what waits, how old the oldest is, and what was given up on in the last hour', async () => {
    expect(await stats()).toEqual({ status: 200, body: { pending: 0, oldest_pending_age_ms: null, failed_last_hour: 0 } });

    // The SMTP server refuses the recipient (550): given up on at once.
    expect((await post(hs.url + EMAIL, { client_secret: 'old_failure', email: 'old-failure@example.org', send_attempt: 1 })).status).toBe(200);
    await eventually(() => hs.module.deliveryCounts.failed === 1, 'the first email to be given up on');
    expect((await stats()).body).toEqual({ pending: 0, oldest_pending_age_ms: null, failed_last_hour: 1 });
    clock.advance(61 * MINUTE);
    expect((await stats()).body).toEqual({ pending: 0, oldest_pending_age_ms: null, failed_last_hour: 0 });

    expect((await post(hs.url + EMAIL, { client_secret: 'new_failure', email: 'new-failure@example.org', send_attempt: 1 })).status).toBe(200);
    await eventually(() => hs.module.deliveryCounts.failed === 2, 'the second email to be given up on');

    // The SMS gateway is down (503): the text waits in the outbox, retried.
    gateway.failNext(1_000, 503);
    expect((await post(hs.url + SMS, { client_secret: 'waiting', country: 'FR', phone_number: '0612345678', send_attempt: 1 })).status).toBe(200);
    await eventually(() => hs.module.deliveryCounts.retried >= 1, 'the text to be retried');
    clock.advance(10 * MINUTE);
    expect(await stats()).toEqual({ status: 200, body: { pending: 1, oldest_pending_age_ms: 10 * MINUTE, failed_last_hour: 1 } });

    const metrics = await (await fetch(`${hs.internalUrl}/metrics`)).text();
    expect(messagesTotal(metrics, { channel: 'email', provider: 'smtp', outcome: 'queued' })).toBe(2);
    expect(messagesTotal(metrics, { channel: 'email', provider: 'smtp', outcome: 'failed' })).toBe(2);
    expect(messagesTotal(metrics, { channel: 'sms', provider: 'twilio', outcome: 'queued' })).toBe(1);
    expect(messagesTotal(metrics, { channel: 'sms', provider: 'twilio', outcome: 'retried' })).toBeGreaterThanOrEqual(1);
    expect(messagesTotal(metrics, { channel: 'sms', provider: 'twilio', outcome: 'failed' })).toBeUndefined();

    // Each message given up on is logged once, with its id, channel, provider and the reason; never its address.
    const givenUp = logger.lines.filter((line) => line.message === 'message given up on');
    expect(givenUp).toEqual([
      { level: 'error', message: 'message given up on', fields: { id: expect.any(String), channel: 'email', provider: 'smtp', attempt: 1, reason: expect.stringContaining('550') } },
      { level: 'error', message: 'message given up on', fields: { id: expect.any(String), channel: 'email', provider: 'smtp', attempt: 1, reason: expect.stringContaining('550') } },
    ]);
    const ids = givenUp.map((line) => (line.fields as { id: string }).id);
    expect(new Set(ids).size).toBe(2);
    const logged = logger.text();
    for (const address of ['old-failure', 'new-failure', '612345678']) expect(logged).not.toContain(address);
    expect(logged).not.toMatch(/token=|client_secret=|\/validate/);
  });
});

describe('the provider of a channel without SMTP or a configured sender', () => {
  it('is "custom" for a transport the host passes in, "file" for the development mail files', async () => {
    const dir = tempDir();
    const texts: string[] = [];
    const hs = await startModule(
      { database: { path: path.join(dir, 'threepid.sqlite') }, email: { dev_mail_dir: path.join(dir, 'mail') }, sms: { ...twilioSmsConfig('http://127.0.0.1:9') } },
      { smsTransport: { send: async (message) => void texts.push(message.text) } },
    );
    try {
      expect((await post(hs.url + SMS, { client_secret: 'custom', country: 'FR', phone_number: '0612345678', send_attempt: 1 })).status).toBe(200);
      await eventually(() => hs.module.deliveryCounts.sent === 1, 'the text to be sent');
      expect(texts).toHaveLength(1);
      const metrics = await (await fetch(`${hs.internalUrl}/metrics`)).text();
      expect(messagesTotal(metrics, { channel: 'sms', provider: 'custom', outcome: 'sent' })).toBe(1);
      expect((await post(hs.url + EMAIL, { client_secret: 'file', email: 'file@example.org', send_attempt: 1 })).status).toBe(200);
      await eventually(() => hs.module.deliveryCounts.sent === 2, 'the email to be written');
      const after = await (await fetch(`${hs.internalUrl}/metrics`)).text();
      expect(messagesTotal(after, { channel: 'email', provider: 'file', outcome: 'sent' })).toBe(1);
    } finally {
      await hs.close();
      removeDir(dir);
    }
  });
});
