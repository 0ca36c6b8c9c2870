/**
 * The identity-service v1 validation API on the internal listener, as
 * Synapse (msisdn delegate, JSON) and Dendrite (trusted identity server,
 * form bodies) call it, over real HTTP with a real SMTP sink and the
 * Twilio-shaped SMS gateway.
 */
import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { decodeHtmlEntities } from '../support/e2e-utils';
import { FakeClock, internalToken, post, removeDir, startModule, tempDir, type JsonResponse, type Running } from '../support/harness';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const V1 = '/_matrix/identity/api/v1';
const PHONE = 'identity/v2_phone_associations.yaml';
const EMAIL = 'identity/v2_email_associations.yaml';
const ASSOCIATIONS = 'identity/v2_associations.yaml';
/** Synapse's requestToken body for a French mobile number. */
const SYNAPSE_BODY = { client_secret: 'syn_secret', country: 'FR', phone_number: '06 12 34 56 78', send_attempt: 1 };

describe('the identity-service v1 API (internal listener)', () => {
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let dir: string;
  let clock: FakeClock;
  let hs: Running | undefined;

  beforeEach(async () => {
    smtp = await startSmtpSink();
    gateway = await startSmsGateway();
    dir = tempDir();
    clock = new FakeClock(Date.now());
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await gateway.close();
    await smtp.close();
    removeDir(dir);
  });

  let starts = 0;
  /** The module on a database of its own (a restart within a test must not count earlier messages). */
  async function start(extra: Partial<RawConfig> = {}, sms: Record<string, unknown> = {}): Promise<Running> {
    starts += 1;
    hs = await startModule(
      {
        database: { path: path.join(dir, `threepid-${starts}.sqlite`) },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, app_name: 'TestHS' },
        sms: { ...twilioSmsConfig(gateway.url), ...sms },
        ...extra,
      } as RawConfig & { database: { path: string } },
      { clock },
    );
    return hs;
  }

  /** A form-urlencoded POST, as Dendrite sends it. */
  async function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });
  }

  async function getJson(url: string): Promise<JsonResponse> {
    const response = await fetch(url);
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  const getValidated = (running: Running, sid: string, clientSecret: string) =>
    getJson(`${running.internalUrl}${V1}/3pid/getValidated3pid?sid=${sid}&client_secret=${clientSecret}`);

  describe('phone numbers, as Synapse delegates them', () => {
    it('requestToken, submitToken and getValidated3pid in the shapes Synapse reads', async () => {
      const running = await start();
      const requested = await post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, {
        ...SYNAPSE_BODY,
        next_link: 'https://app.example.org/done',
      });
      expect(requested.status).toBe(200);
      expectResponseMatchesSpec(PHONE, '/validate/msisdn/requestToken', 'post', 200, requested.body);
      expect(requested.body).toEqual({ sid: expect.any(String), msisdn: '33612345678', intl_fmt: '+33 6 12 34 56 78' });

      const [message] = await gateway.waitFor(1);
      expect(message.to).toBe('+33612345678');
      const sid = requested.body.sid as string;

      const early = await getValidated(running, sid, SYNAPSE_BODY.client_secret);
      expect(early.status).toBe(400);
      expectResponseMatchesSpec(ASSOCIATIONS, '/3pid/getValidated3pid', 'get', 400, early.body);
      expectMatrixError(early.body, 'M_SESSION_NOT_VALIDATED');

      const wrong = await post(`${running.internalUrl}${V1}/validate/msisdn/submitToken`, {
        sid,
        client_secret: SYNAPSE_BODY.client_secret,
        token: '000000' === gateway.codeFor('+33612345678') ? '111111' : '000000',
      });
      expect(wrong.status).toBe(400);
      expectMatrixError(wrong.body, 'M_TOKEN_INCORRECT');

      const submitted = await post(`${running.internalUrl}${V1}/validate/msisdn/submitToken`, {
        sid,
        client_secret: SYNAPSE_BODY.client_secret,
        token: gateway.codeFor('+33612345678'),
      });
      expect(submitted.status).toBe(200);
      expectResponseMatchesSpec(PHONE, '/validate/msisdn/submitToken', 'post', 200, submitted.body);
      expect(submitted.body).toEqual({ success: true });

      // Synapse asks again at every UIA step and at /account/3pid/add: nothing spends the session.
      for (let i = 0; i < 3; i++) {
        const validated = await getValidated(running, sid, SYNAPSE_BODY.client_secret);
        expect(validated.status).toBe(200);
        expectResponseMatchesSpec(ASSOCIATIONS, '/3pid/getValidated3pid', 'get', 200, validated.body);
        expect(validated.body).toEqual({ medium: 'msisdn', address: '33612345678', validated_at: clock.now() });
      }
      // Read once, it answers for 10 minutes more, not for the rest of its 24 hours: no replay later.
      clock.advance(10 * 60_000);
      expect((await getValidated(running, sid, SYNAPSE_BODY.client_secret)).status).toBe(200);
      clock.advance(1);
      const expired = await getValidated(running, sid, SYNAPSE_BODY.client_secret);
      expect(expired.status).toBe(400);
      expectResponseMatchesSpec(ASSOCIATIONS, '/3pid/getValidated3pid', 'get', 400, expired.body);
      expectMatrixError(expired.body, 'M_SESSION_EXPIRED');
    });

    it('no flow of the JWT API can spend a delegated session, and v1 does not answer for client-API sessions', async () => {
      const running = await start();
      const requested = await post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, SYNAPSE_BODY);
      await gateway.waitFor(1);
      const creds = { sid: requested.body.sid, client_secret: SYNAPSE_BODY.client_secret };
      await post(`${running.internalUrl}${V1}/validate/msisdn/submitToken`, { ...creds, token: gateway.codeFor('+33612345678') });

      const jwt = { authorization: `Bearer ${internalToken()}` };
      // Not even read: what a delegated session proves is for getValidated3pid alone.
      const read = await post(`${running.internalUrl}/_threepid/v1/sessions/validated`, creds, jwt);
      expect(read.status).toBe(404);
      expectMatrixError(read.body, 'M_NO_VALID_SESSION');
      await expect(running.module.getValidated(creds.sid, creds.client_secret)).rejects.toMatchObject({ errcode: 'M_NO_VALID_SESSION' });
      for (const flow of ['register', 'password', '3pid']) {
        const consumed = await post(`${running.internalUrl}/_threepid/v1/sessions/consume`, { ...creds, flow }, jwt);
        expect(consumed.status).toBe(404);
        expectMatrixError(consumed.body, 'M_NO_VALID_SESSION');
        const uia = await post(
          `${running.internalUrl}/_threepid/v1/uia/threepid`,
          { flow, consume: true, auth: { type: 'm.login.msisdn', threepid_creds: creds } },
          jwt,
        );
        // Answered as for a sid that does not exist.
        expect(uia.status).toBe(404);
        expectMatrixError(uia.body, 'M_NO_VALID_SESSION');
      }
      expect((await getValidated(running, creds.sid, creds.client_secret)).status).toBe(200);

      // A session the client-server API started, validated: not the v1 API's to answer.
      const own = await post(`${running.url}/_matrix/client/v3/register/msisdn/requestToken`, {
        client_secret: 'own_secret', country: 'US', phone_number: '(212) 736-5000', send_attempt: 1,
      });
      expect(own.body).toEqual(expect.objectContaining({ msisdn: '12127365000' }));
      await gateway.waitFor(2);
      await post(own.body.submit_url, { sid: own.body.sid, client_secret: 'own_secret', token: gateway.codeFor('+12127365000') });
      const other = await getValidated(running, own.body.sid, 'own_secret');
      expect(other.status).toBe(404);
      expectMatrixError(other.body, 'M_NO_VALID_SESSION');
    });

    it('skips the directory (the homeserver checked), and keeps send_attempt idempotency', async () => {
      const running = await start();
      const bound = await fetch(`${running.internalUrl}/_threepid/v1/bindings/msisdn/33612345678`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${internalToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: '@someone:example.org' }),
      });
      expect(bound.status).toBe(200);
      const first = await post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, SYNAPSE_BODY);
      expect(first.status).toBe(200);
      const again = await post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, SYNAPSE_BODY);
      expect(again.body.sid).toBe(first.body.sid);
      const next = await post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, { ...SYNAPSE_BODY, send_attempt: 2 });
      expect(next.body.sid).toBe(first.body.sid);
      await gateway.waitFor(2);
      expect(gateway.messages).toHaveLength(2);
    });
  });

  describe('email, as Dendrite asks for it (form bodies)', () => {
    it('form requestToken answers {sid}; the emailed link is the public page; getValidated3pid follows', async () => {
      const running = await start();
      const response = await postForm(`${running.internalUrl}${V1}/validate/email/requestToken`, {
        client_secret: 'dendrite_secret',
        email: 'Carol@Example.org',
        send_attempt: '1',
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { sid: string };
      expectResponseMatchesSpec(EMAIL, '/validate/email/requestToken', 'post', 200, body);
      expect(body).toEqual({ sid: expect.any(String) });

      const [mail] = await smtp.waitFor(1);
      const link = linkIn(mail);
      expect(link.origin + link.pathname).toBe(`${running.url}/_threepid/client/v1/email/validate`);
      const notYet = await getValidated(running, body.sid, 'dendrite_secret');
      expect(notYet.status).toBe(400);
      expectMatrixError(notYet.body, 'M_SESSION_NOT_VALIDATED');

      const submitted = await postForm(`${running.internalUrl}${V1}/validate/email/submitToken`, {
        sid: body.sid,
        client_secret: 'dendrite_secret',
        token: link.searchParams.get('token')!,
      });
      expect(submitted.status).toBe(200);
      const success = await submitted.json();
      expectResponseMatchesSpec(EMAIL, '/validate/email/submitToken', 'post', 200, success);
      expect(success).toEqual({ success: true });

      const validated = await getValidated(running, body.sid, 'dendrite_secret');
      expect(validated.status).toBe(200);
      expectResponseMatchesSpec(ASSOCIATIONS, '/3pid/getValidated3pid', 'get', 200, validated.body);
      expect(validated.body).toEqual({ medium: 'email', address: 'carol@example.org', validated_at: clock.now() });
    });

    it('GET submitToken shows the Confirm page; its form POSTs back and gets the page answers', async () => {
      const running = await start();
      const requested = await post(`${running.internalUrl}${V1}/validate/email/requestToken`, {
        client_secret: 'page_secret',
        email: 'dave@example.org',
        send_attempt: 1,
        next_link: 'https://app.example.org/welcome',
      });
      const [mail] = await smtp.waitFor(1);
      const token = linkIn(mail).searchParams.get('token')!;
      const query = new URLSearchParams({ sid: requested.body.sid, client_secret: 'page_secret', token });
      const pageUrl = `${running.internalUrl}${V1}/validate/email/submitToken`;

      // A GET validates nothing (mail scanners fetch links).
      const page = await fetch(`${pageUrl}?${query.toString()}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('cache-control')).toBe('no-store');
      const html = await page.text();
      const form = /<form method="post" action="([^"]+)">/.exec(html);
      expect(decodeHtmlEntities(form![1])).toBe(`${V1}/validate/email/submitToken`);
      expect((await getValidated(running, requested.body.sid, 'page_secret')).body.errcode).toBe('M_SESSION_NOT_VALIDATED');

      const fields = Object.fromEntries(
        [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], decodeHtmlEntities(m[2])]),
      );
      const pressed = await postForm(pageUrl, fields, { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
      expect(pressed.status).toBe(302);
      expect(pressed.headers.get('location')).toBe(`https://app.example.org/welcome?sid=${requested.body.sid}`);
      expect((await getValidated(running, requested.body.sid, 'page_secret')).status).toBe(200);

      const wrongToken = await postForm(pageUrl, { ...fields, token: 'not-the-token' }, { accept: 'text/html' });
      expect(wrongToken.status).toBe(400);
      expect(await wrongToken.text()).toMatch(/<html/);
      const incomplete = await fetch(`${pageUrl}?sid=${requested.body.sid}`);
      expect(incomplete.status).toBe(400);
      expect(incomplete.headers.get('content-type')).toMatch(/^text\/html/);
    });
  });

  describe('errors', () => {
    it('M_NO_VALID_SESSION for an unknown sid or a wrong secret; M_MISSING_PARAM; bad bodies', async () => {
      const running = await start();
      const requested = await post(`${running.internalUrl}${V1}/validate/email/requestToken`, {
        client_secret: 'err_secret', email: 'erin@example.org', send_attempt: 1,
      });
      for (const [sid, secret] of [['nosuchsession', 'err_secret'], [requested.body.sid, 'another_secret']]) {
        const res = await getValidated(running, sid, secret);
        expect(res.status).toBe(404);
        expectResponseMatchesSpec(ASSOCIATIONS, '/3pid/getValidated3pid', 'get', 404, res.body);
        expectMatrixError(res.body, 'M_NO_VALID_SESSION');
      }
      const missing = await getJson(`${running.internalUrl}${V1}/3pid/getValidated3pid?sid=${requested.body.sid}`);
      expect(missing.status).toBe(400);
      expectMatrixError(missing.body, 'M_MISSING_PARAM');
      const twice = await getJson(`${running.internalUrl}${V1}/3pid/getValidated3pid?sid=a&sid=b&client_secret=c`);
      expect(twice.status).toBe(400);
      expectMatrixError(twice.body, 'M_INVALID_PARAM');

      const noEmail = await post(`${running.internalUrl}${V1}/validate/email/requestToken`, { client_secret: 'x', send_attempt: 1 });
      expect(noEmail.status).toBe(400);
      expectResponseMatchesSpec(EMAIL, '/validate/email/requestToken', 'post', 400, noEmail.body);
      expectMatrixError(noEmail.body, 'M_MISSING_PARAM');
      // A JSON string is not an integer; a form's digits are.
      const jsonString = await post(`${running.internalUrl}${V1}/validate/email/requestToken`, {
        client_secret: 'x', email: 'x@example.org', send_attempt: '1',
      });
      expectMatrixError(jsonString.body, 'M_INVALID_PARAM');
      const formWords = await postForm(`${running.internalUrl}${V1}/validate/email/requestToken`, {
        client_secret: 'x', email: 'x@example.org', send_attempt: 'one',
      });
      expect(formWords.status).toBe(400);
      expectMatrixError(await formWords.json(), 'M_INVALID_PARAM');
      const notJson = await post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, '{"client_secret":');
      expectMatrixError(notJson.body, 'M_NOT_JSON');
      const badPhone = await post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, { ...SYNAPSE_BODY, phone_number: '12' });
      expect(badPhone.status).toBe(400);
      expectResponseMatchesSpec(PHONE, '/validate/msisdn/requestToken', 'post', 400, badPhone.body);
      const unknownSid = await post(`${running.internalUrl}${V1}/validate/msisdn/submitToken`, {
        sid: 'nosuchsession', client_secret: 'x', token: '123456',
      });
      expect(unknownSid.status).toBe(400);
      expectMatrixError(unknownSid.body, 'M_INVALID_PARAM');
      const wrongMethod = await fetch(`${running.internalUrl}${V1}/validate/msisdn/requestToken`);
      expect(wrongMethod.status).toBe(405);
      expectMatrixError(await wrongMethod.json(), 'M_UNRECOGNIZED');
    });

    it('a form body of more fields than the parser takes is 413 M_TOO_LARGE, not a server error', async () => {
      const running = await start();
      const fields = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`f${i}`, '1']));
      const response = await postForm(`${running.internalUrl}${V1}/validate/email/requestToken`, fields);
      expect(response.status).toBe(413);
      expectMatrixError(await response.json(), 'M_TOO_LARGE');
    });

    it('an expired token is M_SESSION_EXPIRED at submitToken and getValidated3pid', async () => {
      const running = await start();
      const requested = await post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, SYNAPSE_BODY);
      await gateway.waitFor(1);
      clock.advance(16 * 60_000); // SMS codes work for 15 minutes
      const late = await post(`${running.internalUrl}${V1}/validate/msisdn/submitToken`, {
        sid: requested.body.sid, client_secret: SYNAPSE_BODY.client_secret, token: gateway.codeFor('+33612345678'),
      });
      expect(late.status).toBe(400);
      expectMatrixError(late.body, 'M_SESSION_EXPIRED');
      const validated = await getValidated(running, requested.body.sid, SYNAPSE_BODY.client_secret);
      expect(validated.status).toBe(400);
      expectMatrixError(validated.body, 'M_SESSION_EXPIRED');
    });
  });

  describe('limits: the caller is the homeserver', () => {
    it('no per-IP limit (the client API has one), but the per-address limit stays', async () => {
      const running = await start({ rc_3pid_validation: { per_second: 0.001, burst_count: 1 } });
      for (const [index, email] of ['a@example.org', 'b@example.org', 'c@example.org'].entries()) {
        const res = await post(`${running.internalUrl}${V1}/validate/email/requestToken`, {
          client_secret: `s${index}`, email, send_attempt: 1,
        });
        expect(res.status).toBe(200);
      }
      const sameAddress = await post(`${running.internalUrl}${V1}/validate/email/requestToken`, {
        client_secret: 'another', email: 'a@example.org', send_attempt: 1,
      });
      expect(sameAddress.status).toBe(429);
      expectMatrixError(sameAddress.body, 'M_LIMIT_EXCEEDED');
      // The client-server API on the same loopback IP: one request, then its per-IP bucket is empty.
      const client = (email: string) =>
        post(`${running.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'cs', email, send_attempt: 1 });
      expect((await client('d@example.org')).status).toBe(200);
      expect((await client('e@example.org')).status).toBe(429);
    });

    it('keeps the per-number, per-range and daily SMS caps and the country rules', async () => {
      const one = { per_second: 0.001, burst_count: 1 };
      const request = (running: Running, body: Record<string, unknown>) =>
        post(`${running.internalUrl}${V1}/validate/msisdn/requestToken`, { ...SYNAPSE_BODY, ...body });

      let running = await start({}, { rc_per_number: one });
      expect((await request(running, {})).status).toBe(200);
      const sameNumber = await request(running, { send_attempt: 2 });
      expect(sameNumber.status).toBe(429);
      expectMatrixError(sameNumber.body, 'M_LIMIT_EXCEEDED');
      await running.close();
      hs = undefined;

      running = await start({}, { rc_per_prefix: one });
      expect((await request(running, { client_secret: 'r1', phone_number: '06 12 34 56 78' })).status).toBe(200);
      const sameRange = await request(running, { client_secret: 'r2', phone_number: '06 12 34 99 99' });
      expect(sameRange.status).toBe(429);
      await running.close();
      hs = undefined;

      running = await start({}, { daily_limit: 1 });
      expect((await request(running, { client_secret: 'd1' })).status).toBe(200);
      const overCap = await request(running, { client_secret: 'd2', phone_number: '06 98 76 54 32' });
      expect(overCap.status).toBe(429);
      expectMatrixError(overCap.body, 'M_LIMIT_EXCEEDED');
      await running.close();
      hs = undefined;

      running = await start({}, { denied_countries: ['FR'] });
      const denied = await request(running, {});
      expect(denied.status).toBe(403);
      expectResponseMatchesSpec(PHONE, '/validate/msisdn/requestToken', 'post', 403, denied.body);
      expectMatrixError(denied.body, 'M_THREEPID_DENIED');
    });
  });

  describe('who is answered', () => {
    const routes: Array<[string, string]> = [
      ['POST', '/validate/email/requestToken'],
      ['POST', '/validate/msisdn/requestToken'],
      ['POST', '/validate/email/submitToken'],
      ['POST', '/validate/msisdn/submitToken'],
      ['GET', '/validate/email/submitToken?sid=a&client_secret=b&token=c'],
      ['GET', '/3pid/getValidated3pid?sid=a&client_secret=b'],
      ['GET', '/no/such/endpoint'],
    ];
    const call = (base: string, method: string, route: string) =>
      fetch(`${base}${V1}${route}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });

    it('a caller outside allowed_callers gets 403 M_FORBIDDEN everywhere, with no JWT needed inside', async () => {
      const running = await start({ identity_service_api: { allowed_callers: ['10.0.0.0/8', 'fd00::/8'] } });
      for (const [method, route] of routes) {
        const res = await call(running.internalUrl, method, route);
        expect(res.status).toBe(403);
        expectMatrixError(await res.json(), 'M_FORBIDDEN');
      }
      expect(gateway.messages).toHaveLength(0);
      await running.close();
      hs = undefined;
      const allowed = await start({ identity_service_api: { allowed_callers: ['127.0.0.1/32'] } });
      const res = await post(`${allowed.internalUrl}${V1}/validate/msisdn/requestToken`, SYNAPSE_BODY);
      expect(res.status).toBe(200);
    });

    it('is never served on the public listener, and not at all when turned off', async () => {
      let running = await start();
      for (const [method, route] of routes) {
        const res = await call(running.url, method, route);
        expect(res.status).toBe(404);
        expectMatrixError(await res.json(), 'M_UNRECOGNIZED');
      }
      await running.close();
      hs = undefined;
      running = await start({ identity_service_api: { enabled: false } });
      for (const [method, route] of routes) {
        for (const base of [running.url, running.internalUrl]) {
          const res = await call(base, method, route);
          expect(res.status).toBe(404);
          expectMatrixError(await res.json(), 'M_UNRECOGNIZED');
        }
      }
      // The JWT API beside it is unaffected.
      const jwtApi = await post(`${running.internalUrl}/_threepid/v1/sessions/validated`, { sid: 'a', client_secret: 'b' }, {
        authorization: `Bearer ${internalToken()}`,
      });
      expectMatrixError(jwtApi.body, 'M_NO_VALID_SESSION');
    });
  });
});
