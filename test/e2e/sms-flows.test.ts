import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RawConfig } from '../../src/config';
import type { Flow } from '../../src/store/sessions';
import { eventually, queryDb } from '../support/e2e-utils';
import { FakeClock, internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const PATHS: Record<Flow, string> = {
  register: '/_matrix/client/v3/register/msisdn/requestToken',
  password: '/_matrix/client/r0/account/password/msisdn/requestToken',
  '3pid': '/_matrix/client/v3/account/3pid/msisdn/requestToken',
};
const SPEC: Record<Flow, [string, string]> = {
  register: ['client-server/registration.yaml', '/register/msisdn/requestToken'],
  password: ['client-server/password_management.yaml', '/account/password/msisdn/requestToken'],
  '3pid': ['client-server/administrative_contact.yaml', '/account/3pid/msisdn/requestToken'],
};

describe('phone numbers, verified by the homeserver over SMS', () => {
  let gateway: SmsGateway;
  let dir: string;
  let hs: Running;
  let clock: FakeClock;
  let dbName = 'threepid.sqlite';

  const start = (sms: Record<string, unknown> = {}, extra: Partial<RawConfig> = {}) =>
    startModule(
      {
        database: { path: path.join(dir, dbName) },
        sms: {
          ...twilioSmsConfig(gateway.url),
          ...sms,
        },
        ...extra,
      } as RawConfig & { database: { path: string } },
      { clock },
    );

  beforeEach(async () => {
    gateway = await startSmsGateway();
    dir = tempDir();
    clock = new FakeClock(Date.now());
    dbName = 'threepid.sqlite';
  });

  afterEach(async () => {
    await hs?.close();
    await gateway.close();
    removeDir(dir);
  });

  const internal = (route: string, body: unknown) =>
    post(`${hs.internalUrl}/_threepid/v1/sessions/${route}`, body, { authorization: `Bearer ${internalToken()}` });

  it.each<[Flow, string, string, string]>([
    ['register', 'FR', '06 12 34 56 78', '33612345678'],
    ['password', 'US', '(212) 736-5000', '12127365000'],
    ['3pid', 'GB', '+33 6 12 34 56 78', '33612345678'],
  ])('%s: the code texted through Twilio, typed into submit_url, validates the session', async (flow, country, typed, msisdn) => {
    hs = await start();
    if (flow === 'password') await hs.module.bindings.put('msisdn', msisdn, '@owner:example.org');
    const res = await post(hs.url + PATHS[flow], { client_secret: 'cs', country, phone_number: typed, send_attempt: 1 });
    expect(res.status).toBe(200);
    expectResponseMatchesSpec(...SPEC[flow], 'post', 200, res.body);
    expect(res.body).toEqual({
      sid: expect.stringMatching(/^[0-9a-zA-Z.=_-]+$/),
      submit_url: `${hs.url}/_threepid/client/v1/msisdn/submit_token`,
      msisdn,
      intl_fmt: expect.stringMatching(/^\+\d[\d ]+$/),
    });

    const [sms] = await gateway.waitFor(1);
    expect(sms.to).toBe(`+${msisdn}`);
    expect(sms.from).toBe('+15005550006');
    expect(sms.text).not.toContain('http');
    const code = gateway.codeFor(`+${msisdn}`);
    expect(code).toMatch(/^\d{6}$/);

    const ok = await post(res.body.submit_url, { sid: res.body.sid, client_secret: 'cs', token: code });
    expect(ok.body).toEqual({ success: true });
    const consumed = await internal('consume', { sid: res.body.sid, client_secret: 'cs', flow });
    expect(consumed.body).toEqual({ medium: 'msisdn', address: msisdn, validated_at: clock.now() });
  });

  it('kills a session after five wrong codes, even for the right one', async () => {
    hs = await start();
    const res = await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
    await gateway.waitFor(1);
    const code = gateway.codeFor('+33612345678');
    const wrong = code === '000000' ? '000001' : '000000';
    for (let i = 0; i < 5; i++) {
      const attempt = await post(res.body.submit_url, { sid: res.body.sid, client_secret: 'cs', token: wrong });
      expectMatrixError(attempt.body, 'M_TOKEN_INCORRECT');
    }
    const right = await post(res.body.submit_url, { sid: res.body.sid, client_secret: 'cs', token: code });
    expect(right.status).toBe(400);
    expectMatrixError(right.body, 'M_TOKEN_INCORRECT');
    expectMatrixError((await internal('validated', { sid: res.body.sid, client_secret: 'cs' })).body, 'M_SESSION_NOT_VALIDATED');
  });

  it('refuses numbers that are not valid for their country, with a readable message', async () => {
    hs = await start();
    for (const [country, phone] of [['GB', '123'], ['DE', '0151 123 4567'], ['XX', '0612345678'], ['FRA', '0612345678'], ['FR', '06 12 34 56 78; rm']]) {
      const res = await post(hs.url + PATHS.register, { client_secret: 'cs', country, phone_number: phone, send_attempt: 1 });
      expect(res.status).toBe(400);
      expectMatrixError(res.body, 'M_INVALID_PARAM');
      expect(res.body.error.length).toBeGreaterThan(10);
    }
    const missing = await post(hs.url + PATHS.register, { client_secret: 'cs', send_attempt: 1 });
    expectMatrixError(missing.body, 'M_MISSING_PARAM');
    expect(missing.body.error).toMatch(/country.*phone_number/);
    expect(gateway.messages).toHaveLength(0);
  });

  it('keeps send_attempt idempotency per number and client_secret', async () => {
    hs = await start();
    const body = { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 };
    const first = await post(hs.url + PATHS.register, body);
    const again = await post(hs.url + PATHS.register, { ...body, phone_number: '+33 6 12 34 56 78' });
    expect(again.body.sid).toBe(first.body.sid);
    await gateway.waitFor(1);
    const resend = await post(hs.url + PATHS.register, { ...body, send_attempt: 2 });
    expect(resend.body.sid).toBe(first.body.sid);
    await gateway.waitFor(2);
    expect(gateway.messages).toHaveLength(2);
  });

  it('applies the in-use / not-found checks and the inhibit option as for email', async () => {
    hs = await start();
    await hs.module.bindings.put('msisdn', '33612345678', '@u:example.org');
    const inUse = await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
    expectMatrixError(inUse.body, 'M_THREEPID_IN_USE');
    const notFound = await post(hs.url + PATHS.password, { client_secret: 'cs', country: 'US', phone_number: '2127365000', send_attempt: 1 });
    expectMatrixError(notFound.body, 'M_THREEPID_NOT_FOUND');
    await hs.close();
    hs = await start({}, { request_token_inhibit_3pid_errors: true });
    const hidden = await post(hs.url + PATHS.password, { client_secret: 'cs', country: 'US', phone_number: '2127365000', send_attempt: 1 });
    expect(hidden.status).toBe(200);
    expect(hidden.body.sid).toMatch(/^[0-9a-zA-Z_-]{22}$/);
    // Nothing was queued, so nothing can be sent later either: the decoy's row is one the worker never claims.
    expect(await queryDb(path.join(dir, dbName), 'SELECT status FROM threepid_outbox')).toEqual([{ status: 'decoy' }]);
    expect(gateway.messages).toHaveLength(0);
  });

  describe('abuse controls', () => {
    it('refuses denied countries, and countries not allowed', async () => {
      hs = await start({ denied_countries: ['fr'] });
      const denied = await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
      expect(denied.status).toBe(403);
      expectResponseMatchesSpec(...SPEC.register, 'post', 403, denied.body);
      expectMatrixError(denied.body, 'M_THREEPID_DENIED');
      await hs.close();
      hs = await start({ allowed_countries: ['US'] });
      const notAllowed = await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'US', phone_number: '+33612345678', send_attempt: 1 });
      expectMatrixError(notAllowed.body, 'M_THREEPID_DENIED');
      const allowed = await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'US', phone_number: '2127365000', send_attempt: 1 });
      expect(allowed.status).toBe(200);
    });

    it('limits per number, per number range and per client IP', async () => {
      hs = await start({ rc_per_number: { per_second: 0.001, burst_count: 2 } });
      const ask = (phone: string, secret: string) =>
        post(hs.url + PATHS.register, { client_secret: secret, country: 'US', phone_number: phone, send_attempt: 1 });
      expect((await ask('2127365000', 'a')).status).toBe(200);
      expect((await ask('2127365000', 'b')).status).toBe(200);
      const limited = await ask('2127365000', 'c');
      expect(limited.status).toBe(429);
      expectMatrixError(limited.body, 'M_LIMIT_EXCEEDED');
      expect(limited.body.retry_after_ms).toBeGreaterThan(0);
      expect((await ask('2127365001', 'd')).status).toBe(200);
      await hs.close();
      // A fresh database: on PostgreSQL the counts live there and would carry over.
      dbName = 'per-range.sqlite';

      hs = await start({ rc_per_prefix: { per_second: 0.001, burst_count: 3 } });
      for (const suffix of ['5000', '5001', '5002']) expect((await ask(`212736${suffix}`, suffix)).status).toBe(200);
      expectMatrixError((await ask('2127365003', 'x')).body, 'M_LIMIT_EXCEEDED');
      expect((await ask('2127375003', 'y')).status).toBe(200);
      await hs.close();
      dbName = 'per-ip.sqlite';

      hs = await start({ rc_per_ip: { per_second: 0.001, burst_count: 1 } });
      expect((await ask('2127365000', 'a')).status).toBe(200);
      expectMatrixError((await ask('3125550100', 'b')).body, 'M_LIMIT_EXCEEDED');
    });

    it('stops at the global daily cap, and opens again a day later', async () => {
      hs = await start({ daily_limit: 2 });
      const ask = (phone: string) =>
        post(hs.url + PATHS.register, { client_secret: 'cs', country: 'US', phone_number: phone, send_attempt: 1 });
      expect((await ask('2127365000')).status).toBe(200);
      expect((await ask('3125550100')).status).toBe(200);
      const capped = await ask('4155550100');
      expect(capped.status).toBe(429);
      expectMatrixError(capped.body, 'M_LIMIT_EXCEEDED');
      expect(capped.body.retry_after_ms).toBeGreaterThan(23 * 3_600_000);
      clock.advance(24 * 3_600_000 + 1);
      expect((await ask('4155550100')).status).toBe(200);
    });
  });

  it('survives a gateway outage: the code goes out once the gateway is back', async () => {
    hs = await start();
    gateway.failNext(1, 503);
    const res = await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
    expect(res.status).toBe(200);
    await eventually(() => hs.module.deliveryCounts.retried === 1, 'the first attempt to fail');
    expect(gateway.messages).toHaveLength(0);
    clock.advance(60_000);
    hs.module.flushOutbox();
    await gateway.waitFor(1);
    // The gateway has the message before the module has recorded its answer.
    await eventually(() => hs.module.deliveryCounts.sent === 1, 'the second attempt to be recorded as sent');
  });

  it('gives up at once when the gateway refuses the message for good', async () => {
    hs = await start();
    gateway.failNext(1, 400);
    await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
    await eventually(() => hs.module.deliveryCounts.failed === 1, 'the message to be given up on');
  });

  it('sends through a generic JSON webhook with the configured headers and body', async () => {
    hs = await start({
      sender: 'http',
      twilio: undefined,
      http: { url: `${gateway.url}/webhook`, headers: { 'x-api-key': 'k1' }, body: { to: '+{{to}}', text: '{{text}}', channel: 'sms' } },
    });
    await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
    const [sms] = await gateway.waitFor(1);
    expect(sms.via).toBe('webhook');
    expect(sms.to).toBe('+33612345678');
    expect(sms.headers['x-api-key']).toBe('k1');
    expect(sms.raw).toMatchObject({ channel: 'sms' });
    expect(gateway.codeFor('+33612345678')).toMatch(/^\d{6}$/);
  });

  it('writes codes to files with the development sender', async () => {
    const smsDir = path.join(dir, 'sms');
    hs = await start({ sender: 'log', twilio: undefined, dev_sms_dir: smsDir });
    await post(hs.url + PATHS.register, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
    await eventually(() => hs.module.deliveryCounts.sent === 1, 'the message to be written');
    const [file] = readdirSync(smsDir);
    expect(readFileSync(path.join(smsDir, file), 'utf8')).toMatch(/To: \+33612345678\n\n\d{6} is your/);
  });

  it('answers M_THREEPID_MEDIUM_NOT_SUPPORTED on all three endpoints when SMS is off', async () => {
    hs = await start({ enabled: false });
    for (const flow of ['register', 'password', '3pid'] as Flow[]) {
      const res = await post(hs.url + PATHS[flow], { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
      expect(res.status).toBe(400);
      expectMatrixError(res.body, 'M_THREEPID_MEDIUM_NOT_SUPPORTED');
    }
  });
});
