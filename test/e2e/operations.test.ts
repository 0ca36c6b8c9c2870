import path from 'node:path';
import { eventually, freePort } from '../support/e2e-utils';
import { CapturingLogger, FakeClock, internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';

describe("the operator's view: /health, /ready, /metrics and request logs", () => {
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running;
  let logger: CapturingLogger;

  beforeEach(async () => {
    smtp = await startSmtpSink();
    dir = tempDir();
    logger = new CapturingLogger();
    hs = await startModule(
      {
        database: { path: path.join(dir, 'threepid.sqlite') },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
        rc_3pid_validation: { per_second: 0.001, burst_count: 2 },
      },
      { logger },
    );
  });

  afterEach(async () => {
    await hs.close();
    await smtp.close();
    removeDir(dir);
  });

  const metrics = async () => (await fetch(`${hs.internalUrl}/metrics`)).text();

  it('answers /health and /ready on the internal listener only', async () => {
    expect(await (await fetch(`${hs.internalUrl}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${hs.internalUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect((await fetch(`${hs.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${hs.url}/ready`)).status).toBe(404);
  });

  it('counts sessions, messages, requests and rate-limit refusals', async () => {
    const res = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'cs', email: 'a@example.org', send_attempt: 1 });
    const link = linkIn((await smtp.waitFor(1))[0]);
    await post(res.body.submit_url, { sid: res.body.sid, client_secret: 'cs', token: link.searchParams.get('token') });
    await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'cs2', email: 'b@example.org', send_attempt: 1 });
    const limited = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'cs3', email: 'c@example.org', send_attempt: 1 });
    expect(limited.status).toBe(429);
    await smtp.waitFor(2);
    await eventually(async () => (await metrics()).includes('outcome="sent"} 2'), 'both messages to be counted as sent');

    const text = await metrics();
    expect(text).toContain('threepid_sessions_total{medium="email",flow="register",event="created"} 2');
    expect(text).toContain('threepid_sessions_total{medium="email",flow="register",event="validated"} 1');
    expect(text).toContain('threepid_messages_total{channel="email",provider="smtp",outcome="queued"} 2');
    expect(text).toContain('threepid_messages_total{channel="email",provider="smtp",outcome="sent"} 2');
    expect(text).toContain('threepid_rate_limited_total{rule="rc_3pid_validation"} 1');
    expect(text).toContain('threepid_http_requests_total{route="/_matrix/client/v3/register/email/requestToken",method="POST",status="429"} 1');
    expect(text).toMatch(/threepid_outbox_depth 0\n/);
    expect(text).toMatch(/threepid_outbox_oldest_age_seconds 0\n/);
  });

  it('logs one line per request with the route template, never a token, a secret or an address', async () => {
    const res = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'secret-cs', email: 'private@example.org', send_attempt: 1 });
    const link = linkIn((await smtp.waitFor(1))[0]);
    await fetch(link);
    await fetch(`${hs.internalUrl}/_threepid/v1/bindings/email/${encodeURIComponent('private@example.org')}`, {
      headers: { authorization: `Bearer ${internalToken()}` },
    });
    const requests = logger.lines.filter((line) => line.message === 'request');
    expect(requests.map((line) => (line.fields as { route: string }).route)).toEqual([
      '/_matrix/client/v3/register/email/requestToken',
      '/_threepid/client/v1/email/validate',
      '/_threepid/v1/bindings/:medium/:address',
    ]);
    const text = logger.text();
    expect(text).not.toContain(link.searchParams.get('token')!);
    expect(text).not.toContain('secret-cs');
    expect(text).not.toContain('private@example.org');
    expect(text).not.toContain(res.body.sid);
  });

  it('reports the outbox depth and the age of its oldest message while SMTP is down', async () => {
    const clock = new FakeClock(Date.now());
    const downDir = tempDir();
    const down = await startModule(
      { database: { path: path.join(downDir, 'threepid.sqlite') }, email: { smtp_host: '127.0.0.1', smtp_port: await freePort() } },
      { clock },
    );
    try {
      await post(`${down.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'cs', email: 'a@example.org', send_attempt: 1 });
      clock.advance(30_000);
      const text = await (await fetch(`${down.internalUrl}/metrics`)).text();
      expect(text).toMatch(/threepid_outbox_depth 1\n/);
      expect(text).toMatch(/threepid_outbox_oldest_age_seconds 30\n/);
    } finally {
      await down.close();
      removeDir(downDir);
    }
  });
});
