import path from 'node:path';
import { EXPIRED_SESSION_GRACE_MS } from '../../src/threepid/service';
import { FakeClock, internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { eventually, queryDb } from '../support/e2e-utils';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const VALIDATE = '/_threepid/client/v1/email/validate';
const LIFETIME_MS = 15 * 60_000;

describe('the page an emailed link opens, and session expiry', () => {
  let smtp: SmtpSink;
  let dir: string;
  let dbPath: string;
  let clock: FakeClock;
  let hs: Running;

  const startHs = () =>
    startModule(
      {
        database: { path: dbPath },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, validation_token_lifetime: '15m', app_name: 'TestHS' },
      },
      { clock },
    );
  const restart = async () => {
    await hs.close();
    hs = await startHs();
  };

  beforeEach(async () => {
    smtp = await startSmtpSink();
    dir = tempDir();
    dbPath = path.join(dir, 'threepid.sqlite');
    clock = new FakeClock();
    hs = await startHs();
  });

  afterEach(async () => {
    await hs.close();
    await smtp.close();
    removeDir(dir);
  });

  /** Requests a token and answers the session and the emailed link's parameters. */
  async function requestSession(clientSecret = 'link_secret') {
    const res = await post(hs.url + REGISTER, {
      client_secret: clientSecret,
      email: `${clientSecret}@example.org`,
      send_attempt: 1,
    });
    expect(res.status).toBe(200);
    const mails = await smtp.waitFor(smtp.messages.length + 1);
    const link = linkIn(mails[mails.length - 1]);
    return {
      sid: res.body.sid as string,
      submitUrl: res.body.submit_url as string,
      clientSecret,
      token: link.searchParams.get('token')!,
      params: link.searchParams,
    };
  }

  const getPage = (query: string) => fetch(`${hs.url}${VALIDATE}?${query}`);
  const submitForm = (fields: Record<string, string> | URLSearchParams) =>
    fetch(hs.url + VALIDATE, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
  const internalValidated = (sid: string, clientSecret: string) =>
    post(
      `${hs.internalUrl}/_threepid/v1/sessions/validated`,
      { sid, client_secret: clientSecret },
      { authorization: `Bearer ${internalToken()}` },
    );

  function expectPageHeaders(response: Response): void {
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  }

  describe('escaping', () => {
    const hostile = {
      sid: '"><script>alert(1)</script>',
      client_secret: "'><img src=x onerror=alert(2)>",
      token: '</form><svg onload=alert(3)>',
    };

    it('HTML-escapes every value from the query on the confirm page', async () => {
      // The page is shown for a real session (its sid and client_secret); the token is only checked on POST.
      const session = await requestSession('escape_secret');
      const query = new URLSearchParams({ sid: session.sid, client_secret: session.clientSecret, token: hostile.token });
      const response = await getPage(query.toString());
      const body = await response.text();
      expect(response.status).toBe(200);
      expect(body).not.toMatch(/<svg/i);
      // The value is there, escaped inside its attribute, not dropped.
      expect(body).toContain('name="token" value="&lt;&#x2F;form&gt;&lt;svg onload&#x3D;alert(3)&gt;"');
    });

    it('answers hostile values that name no session with a failure page that does not reflect them', async () => {
      const response = await getPage(new URLSearchParams(hostile).toString());
      const body = await response.text();
      expect(response.status).toBe(400);
      expectPageHeaders(response);
      expect(body).toContain('This link did not work');
      expect(body).not.toMatch(/<script|<img|<svg|alert/i);
    });

    it('HTML-escapes what the form posted on the failure page', async () => {
      const response = await submitForm(hostile);
      const body = await response.text();
      expect(response.status).toBe(400);
      expectPageHeaders(response);
      expect(body).not.toMatch(/<script|<img|<svg/i);
    });

    it('does not reflect a hostile token on the failure page', async () => {
      const response = await submitForm({ sid: 'abc', client_secret: 'def', token: '<script>alert(4)</script>' });
      const body = await response.text();
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(body).not.toMatch(/<script/i);
    });
  });

  it('answers a link with missing parameters with a 400 HTML failure page', async () => {
    for (const query of ['', 'sid=abc', 'sid=abc&client_secret=def', 'sid=a&sid=b&client_secret=c&token=d']) {
      const response = await getPage(query);
      expect(response.status).toBe(400);
      expectPageHeaders(response);
      const body = await response.text();
      expect(body).toContain('This link did not work');
      expect(body).not.toContain('<form');
    }
  });

  it('answers a wrong token posted through the form with a 4xx failure page, and the right one still works twice', async () => {
    const session = await requestSession();
    const wrong = await submitForm({ sid: session.sid, client_secret: session.clientSecret, token: 'not-the-token' });
    expect(wrong.status).toBe(400);
    expectPageHeaders(wrong);
    const wrongBody = await wrong.text();
    expect(wrongBody).toContain('This link did not work');
    expect(wrongBody).not.toContain('Email address confirmed');
    expectMatrixError((await internalValidated(session.sid, session.clientSecret)).body, 'M_SESSION_NOT_VALIDATED');

    for (let i = 0; i < 2; i++) {
      const right = await submitForm(session.params);
      expect(right.status).toBe(200);
      expectPageHeaders(right);
      expect(await right.text()).toContain('Email address confirmed');
    }
    expect((await internalValidated(session.sid, session.clientSecret)).status).toBe(200);
  });

  it('answers an unknown session posted through the form with a 4xx failure page', async () => {
    const response = await submitForm({ sid: 'unknownSid', client_secret: 'whatever', token: 'whatever' });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expectPageHeaders(response);
    expect(await response.text()).toContain('This link did not work');
  });

  it('serves the confirm page with no-store and no-referrer', async () => {
    const session = await requestSession();
    const response = await getPage(session.params.toString());
    expect(response.status).toBe(200);
    expectPageHeaders(response);
    expect(await response.text()).toContain('<meta name="referrer" content="no-referrer">');
  });

  it('refuses an expired session on the page, on submit_url and on the internal API', async () => {
    const session = await requestSession();
    clock.advance(LIFETIME_MS + 1_000);

    const page = await submitForm(session.params);
    expect(page.status).toBe(400);
    expectPageHeaders(page);
    expect(await page.text()).toContain('expired');

    const submitted = await post(session.submitUrl, {
      sid: session.sid,
      client_secret: session.clientSecret,
      token: session.token,
    });
    expect(submitted.status).toBe(400);
    expectResponseMatchesSpec('identity/v2_email_associations.yaml', '/validate/email/submitToken', 'post', 400, submitted.body);
    expectMatrixError(submitted.body, 'M_SESSION_EXPIRED');

    const validated = await internalValidated(session.sid, session.clientSecret);
    expect(validated.status).toBe(400);
    expectMatrixError(validated.body, 'M_SESSION_EXPIRED');
  });

  it('accepts the token just before the session expires', async () => {
    const session = await requestSession();
    clock.advance(LIFETIME_MS - 1_000);
    const submitted = await post(session.submitUrl, {
      sid: session.sid,
      client_secret: session.clientSecret,
      token: session.token,
    });
    expect(submitted.status).toBe(200);
    expect(submitted.body).toEqual({ success: true });
  });

  it('keeps answering M_SESSION_EXPIRED during the grace day, then purges the session', async () => {
    const session = await requestSession();
    // Stored under its own key (the sid a client sees is that key, encrypted): found by its address.
    const sessionRows = () => queryDb(dbPath, 'SELECT sid FROM threepid_sessions WHERE address = ?', `${session.clientSecret}@example.org`);

    // Within the grace period: a restart (which purges) keeps it, and it still says "expired".
    clock.advance(LIFETIME_MS + EXPIRED_SESSION_GRACE_MS - 60_000);
    await restart();
    expect(await sessionRows()).toHaveLength(1);
    expectMatrixError((await internalValidated(session.sid, session.clientSecret)).body, 'M_SESSION_EXPIRED');

    // Past it: purged at start, the session is unknown.
    clock.advance(2 * 60_000);
    await restart();
    await eventually(async () => (await sessionRows()).length === 0, 'the session to be purged');
    const validated = await internalValidated(session.sid, session.clientSecret);
    expect(validated.status).toBe(404);
    expectMatrixError(validated.body, 'M_NO_VALID_SESSION');

    const page = await submitForm(session.params);
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.status).toBeLessThan(500);
    expectPageHeaders(page);
    expect(await page.text()).not.toContain('expired');
  });
});
