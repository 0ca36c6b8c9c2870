import { startIdentityServer, IS_TEST_HOOKS, type FakeIdentityServer } from '../../support/identity-server';

const V2 = '/_matrix/identity/v2';

describe('fake identity server (v2)', () => {
  let is: FakeIdentityServer;

  const call = async (method: string, path: string, opts: { token?: string; body?: unknown; raw?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(is.url + path, {
      method,
      headers,
      body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
      redirect: 'manual',
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  const acceptedToken = async (userId?: string) => {
    const token = is.issueAccessToken(userId);
    const r = await call('POST', `${V2}/terms`, { token, body: { user_accepts: [is.termsUrl] } });
    expect(r).toMatchObject({ status: 200, json: {} });
    return token;
  };
  const emailReq = (overrides: Record<string, unknown> = {}) => ({
    client_secret: 'monkeys_are_GREAT',
    email: 'alice@example.org',
    send_attempt: 1,
    ...overrides,
  });

  beforeEach(async () => {
    is = await startIdentityServer();
  });
  afterEach(async () => {
    await is.close();
  });

  it('listens on 127.0.0.1 with an ephemeral port and answers /versions', async () => {
    expect(is.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(is.url).toBe(`http://${is.hostPort}`);
    const r = await call('GET', '/_matrix/identity/versions');
    expect(r.status).toBe(200);
    expect(r.json.versions).toContain('v1.1');
  });

  it('serves the terms without auth, in the spec shape', async () => {
    const r = await call('GET', `${V2}/terms`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      policies: { privacy_policy: { version: '1.2', en: { name: expect.any(String), url: is.termsUrl } } },
    });
  });

  it('requires a Bearer token: 401 M_UNAUTHORIZED when missing or unknown', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const r = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq() });
      expect(r.status).toBe(401);
      expect(r.json.errcode).toBe('M_UNAUTHORIZED');
      expect(typeof r.json.error).toBe('string');
    }
    expect((await call('GET', `${V2}/account`)).status).toBe(401);
    expect((await call('POST', `${V2}/terms`, { body: { user_accepts: [] } })).status).toBe(401);
    expect(is.sent).toHaveLength(0);
  });

  it('gates endpoints with 403 M_TERMS_NOT_SIGNED until the terms are accepted', async () => {
    const token = is.issueAccessToken('@bob:example.org');
    const before = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq() });
    expect(before.status).toBe(403);
    expect(before.json).toEqual({ errcode: 'M_TERMS_NOT_SIGNED', error: expect.any(String) });
    expect((await call('GET', `${V2}/3pid/getValidated3pid?sid=x&client_secret=y`, { token })).json.errcode).toBe('M_TERMS_NOT_SIGNED');
    // account endpoints are not gated
    expect(await call('GET', `${V2}/account`, { token })).toMatchObject({ status: 200, json: { user_id: '@bob:example.org' } });
    // accepting an unrelated URL does not count
    await call('POST', `${V2}/terms`, { token, body: { user_accepts: ['https://example.org/other.html'] } });
    expect((await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq() })).status).toBe(403);
    expect(await call('POST', `${V2}/terms`, { token, body: { user_accepts: [is.termsUrl] } })).toMatchObject({ status: 200, json: {} });
    const after = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq() });
    expect(after.status).toBe(200);
    expect(after.json).toEqual({ sid: expect.stringMatching(/^[0-9a-zA-Z.=_-]{1,255}$/) });
    // acceptance belongs to the user, so another token of the same user is accepted too
    const other = is.issueAccessToken('@bob:example.org');
    expect((await call('POST', `${V2}/validate/email/requestToken`, { token: other, body: emailReq({ send_attempt: 1 }) })).status).toBe(200);
  });

  it('does not gate anything when requireTerms is false', async () => {
    const lax = await startIdentityServer({ requireTerms: false });
    try {
      const r = await fetch(`${lax.url}${V2}/validate/email/requestToken`, {
        method: 'POST',
        headers: { authorization: `Bearer ${lax.issueAccessToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify(emailReq()),
      });
      expect(r.status).toBe(200);
      expect(lax.sent).toHaveLength(1);
    } finally {
      await lax.close();
    }
  });

  it('exchanges an OpenID token for an access token (account/register, account, logout)', async () => {
    const reg = await call('POST', `${V2}/account/register`, {
      body: { access_token: 'openid', token_type: 'Bearer', matrix_server_name: 'hs.example', expires_in: 3600 },
    });
    expect(reg.status).toBe(200);
    expect(typeof reg.json.token).toBe('string');
    const token = reg.json.token as string;
    expect((await call('GET', `${V2}/account`, { token })).json).toEqual({ user_id: '@openid:hs.example' });
    expect((await call('POST', `${V2}/account/register`, { body: { access_token: 'x' } })).json.errcode).toBe('M_MISSING_PARAM');
    expect(await call('POST', `${V2}/account/logout`, { token })).toMatchObject({ status: 200, json: {} });
    expect((await call('GET', `${V2}/account`, { token })).status).toBe(401);
    expect((await call('POST', `${V2}/account/logout`, { token })).json.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('records every request with its headers and body', async () => {
    const token = await acceptedToken();
    await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq() });
    const last = is.requests[is.requests.length - 1]!;
    expect(last).toMatchObject({ method: 'POST', path: `${V2}/validate/email/requestToken`, body: emailReq() });
    expect(last.headers.authorization).toBe(`Bearer ${token}`);
    await call('GET', `${V2}/3pid/getValidated3pid?sid=a&client_secret=b`, { token });
    expect(is.requests[is.requests.length - 1]).toMatchObject({ path: `${V2}/3pid/getValidated3pid`, query: { sid: 'a', client_secret: 'b' } });
  });

  it('is idempotent by send_attempt for the same client_secret + address', async () => {
    const token = await acceptedToken();
    const a = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq() });
    expect(a.status).toBe(200);
    expect(is.sent).toEqual([{ medium: 'email', address: 'alice@example.org', sid: a.json.sid, token: expect.any(String), clientSecret: 'monkeys_are_GREAT' }]);
    const retry = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq() });
    expect(retry.json.sid).toBe(a.json.sid);
    expect(is.sent).toHaveLength(1);
    const lower = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq({ send_attempt: 0 }) });
    expect(lower.json.sid).toBe(a.json.sid);
    expect(is.sent).toHaveLength(1);
    // a higher send_attempt re-sends (a reminder) for the same session
    const again = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq({ send_attempt: 2 }) });
    expect(again.json.sid).toBe(a.json.sid);
    expect(is.sent).toHaveLength(2);
    expect(is.sent[1]).toMatchObject({ sid: a.json.sid, token: is.sent[0]!.token });
    // a different client_secret is a different session
    const other = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq({ client_secret: 'other' }) });
    expect(other.json.sid).not.toBe(a.json.sid);
    expect(is.sent).toHaveLength(3);
  });

  it('validates requestToken parameters', async () => {
    const token = await acceptedToken();
    const post = (medium: string, body: unknown) => call('POST', `${V2}/validate/${medium}/requestToken`, { token, body });
    expect((await post('email', { client_secret: 'x', send_attempt: 1 })).json.errcode).toBe('M_MISSING_PARAM');
    expect((await post('email', emailReq({ client_secret: 'bad secret!' }))).json.errcode).toBe('M_INVALID_PARAM');
    expect((await post('email', emailReq({ client_secret: '' }))).json.errcode).toBe('M_INVALID_PARAM');
    expect((await post('email', emailReq({ send_attempt: 'one' }))).json.errcode).toBe('M_INVALID_PARAM');
    const bad = await post('email', emailReq({ email: 'not-an-email' }));
    expect(bad).toMatchObject({ status: 400, json: { errcode: 'M_INVALID_EMAIL' } });
    expect(await post('email', emailReq({ email: IS_TEST_HOOKS.rejectedEmail }))).toMatchObject({ status: 400, json: { errcode: 'M_DESTINATION_REJECTED' } });
    expect(await post('email', emailReq({ email: IS_TEST_HOOKS.sendErrorEmail }))).toMatchObject({ status: 400, json: { errcode: 'M_EMAIL_SEND_ERROR' } });
    const msisdn = { client_secret: 's3cret', country: 'GB', phone_number: '07700900001', send_attempt: 1 };
    expect((await post('msisdn', { ...msisdn, country: undefined })).json.errcode).toBe('M_MISSING_PARAM');
    expect(await post('msisdn', { ...msisdn, phone_number: 'call me' })).toMatchObject({ status: 400, json: { errcode: 'M_INVALID_ADDRESS' } });
    expect((await post('msisdn', { ...msisdn, phone_number: IS_TEST_HOOKS.rejectedPhone })).json.errcode).toBe('M_DESTINATION_REJECTED');
    expect((await post('msisdn', { ...msisdn, phone_number: IS_TEST_HOOKS.sendErrorPhone })).json.errcode).toBe('M_SEND_ERROR');
    expect(is.sent).toHaveLength(0);
    const ok = await post('msisdn', msisdn);
    expect(ok).toMatchObject({ status: 200, json: { sid: expect.any(String) } });
    expect(is.sent).toEqual([{ medium: 'msisdn', address: '447700900001', sid: ok.json.sid, token: expect.any(String), clientSecret: 's3cret' }]);
  });

  it('answers 400 M_NOT_JSON for a non-JSON body and 404 M_UNRECOGNIZED for unknown paths', async () => {
    const token = await acceptedToken();
    const r = await call('POST', `${V2}/validate/email/requestToken`, { token, raw: '{not json' });
    expect(r).toMatchObject({ status: 400, json: { errcode: 'M_NOT_JSON' } });
    expect(is.requests[is.requests.length - 1]!.body).toBe('{not json');
    expect(await call('GET', `${V2}/nope`, { token })).toMatchObject({ status: 404, json: { errcode: 'M_UNRECOGNIZED' } });
    expect((await call('GET', '/_matrix/identity/api/v1/lookup')).json.errcode).toBe('M_UNRECOGNIZED');
  });

  it('validates a session with submitToken and reports it with getValidated3pid', async () => {
    const token = await acceptedToken();
    const { json } = await call('POST', `${V2}/validate/email/requestToken`, { token, body: emailReq({ email: 'Alice@Example.org' }) });
    const sid = json.sid as string;
    const msg = is.sent[0]!;
    const q = `${V2}/3pid/getValidated3pid?sid=${sid}&client_secret=monkeys_are_GREAT`;
    expect(await call('GET', q, { token })).toMatchObject({ status: 400, json: { errcode: 'M_SESSION_NOT_VALIDATED' } });
    expect(await call('GET', `${V2}/3pid/getValidated3pid?sid=${sid}&client_secret=wrong`, { token })).toMatchObject({ status: 404, json: { errcode: 'M_NO_VALID_SESSION' } });
    expect((await call('GET', `${V2}/3pid/getValidated3pid?sid=unknown&client_secret=monkeys_are_GREAT`, { token })).status).toBe(404);

    const submit = (body: unknown, medium = 'email') => call('POST', `${V2}/validate/${medium}/submitToken`, { token, body });
    expect(await submit({ sid, client_secret: 'monkeys_are_GREAT', token: 'wrong' })).toMatchObject({ status: 400, json: { errcode: 'M_TOKEN_INCORRECT' } });
    expect(await submit({ sid, client_secret: 'other', token: msg.token })).toMatchObject({ status: 400, json: { errcode: 'M_INVALID_PARAM' } });
    expect(await submit({ sid, client_secret: 'monkeys_are_GREAT', token: msg.token }, 'msisdn')).toMatchObject({ status: 400, json: { errcode: 'M_INVALID_PARAM' } });
    expect(await submit({ sid, client_secret: 'monkeys_are_GREAT' })).toMatchObject({ status: 400, json: { errcode: 'M_MISSING_PARAM' } });
    expect(await call('GET', q, { token })).toMatchObject({ status: 400 });

    const before = Date.now();
    expect(await submit({ sid, client_secret: 'monkeys_are_GREAT', token: msg.token })).toMatchObject({ status: 200, json: { success: true } });
    const v = await call('GET', q, { token });
    expect(v.status).toBe(200);
    expect(v.json).toEqual({ medium: 'email', address: 'alice@example.org', validated_at: expect.any(Number) });
    expect(v.json.validated_at).toBeGreaterThanOrEqual(before - 1);
  });

  it('supports the human-readable GET submitToken, redirecting to next_link', async () => {
    const token = await acceptedToken();
    const body = emailReq({ next_link: 'https://client.example/done' });
    const { json } = await call('POST', `${V2}/validate/email/requestToken`, { token, body });
    const t = is.sent[0]!.token;
    const bad = await call('GET', `${V2}/validate/email/submitToken?sid=${json.sid}&client_secret=monkeys_are_GREAT&token=nope`, { token });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/^text\/plain/);
    const ok = await call('GET', `${V2}/validate/email/submitToken?sid=${json.sid}&client_secret=monkeys_are_GREAT&token=${t}`, { token });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe('https://client.example/done');
    expect((await call('GET', `${V2}/3pid/getValidated3pid?sid=${json.sid}&client_secret=monkeys_are_GREAT`, { token })).status).toBe(200);
  });

  it('validate() marks a session validated, as if the link was clicked', async () => {
    const token = await acceptedToken();
    const body = { client_secret: 'sec', country: 'GB', phone_number: '07700 900002', send_attempt: 1 };
    const { json } = await call('POST', `${V2}/validate/msisdn/requestToken`, { token, body });
    is.validate(json.sid);
    const v = await call('GET', `${V2}/3pid/getValidated3pid?sid=${json.sid}&client_secret=sec`, { token });
    expect(v).toMatchObject({ status: 200, json: { medium: 'msisdn', address: '447700900002', validated_at: expect.any(Number) } });
    expect(() => is.validate('no-such-sid')).toThrow();
  });
});
