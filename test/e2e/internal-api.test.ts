import path from 'node:path';
import jwt from 'jsonwebtoken';
import { ConfigError, parseConfig } from '../../src/config';
import { internalToken, post, removeDir, SHARED_SECRET, startModule, tempDir, type Running } from '../support/harness';
import { expectMatrixError } from '../support/spec';

const AUDIENCE = 'threepid-internal';
const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const PASSWORD = '/_matrix/client/v3/account/password/email/requestToken';

function unsignedToken(claims: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

async function call(
  method: string,
  url: string,
  options: { token?: string; authorization?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(url, {
    method,
    headers,
    body:
      options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe('the internal API', () => {
  let dir: string;
  let hs: Running;

  const start = (homeserver: { shared_secret: string; jwt_audience?: string }) =>
    startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      email: { dev_mail_dir: path.join(dir, 'mail') },
      homeserver,
    });

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await hs.close();
    removeDir(dir);
  });

  describe('authentication', () => {
    beforeEach(async () => {
      hs = await start({ shared_secret: SHARED_SECRET });
    });

    const routes: Array<[string, string, unknown]> = [
      ['POST', '/_threepid/v1/sessions/validated', { sid: 'abc', client_secret: 'def' }],
      ['POST', '/_threepid/v1/sessions/consume', { sid: 'abc', client_secret: 'def', flow: 'register' }],
      ['GET', '/_threepid/v1/bindings/email/a%40example.org', undefined],
      ['PUT', '/_threepid/v1/bindings/email/a%40example.org', { user_id: '@a:example.org' }],
      ['DELETE', '/_threepid/v1/bindings/email/a%40example.org', undefined],
    ];

    it.each(routes)('%s %s without an Authorization header is 401 M_UNAUTHORIZED', async (method, route, body) => {
      const res = await call(method, hs.internalUrl + route, { body });
      expect(res.status).toBe(401);
      expectMatrixError(res.body, 'M_UNAUTHORIZED');
    });

    it.each<[string, () => string]>([
      ['a Basic credential', () => `Basic ${Buffer.from(`admin:${SHARED_SECRET}`).toString('base64')}`],
      ['the shared secret itself as the bearer token', () => `Bearer ${SHARED_SECRET}`],
      ['a JWT signed with another secret', () => `Bearer ${internalToken({}, 'another-secret-that-is-long-enough-too-0123456789')}`],
      ['an expired JWT', () => `Bearer ${jwt.sign({ exp: Math.floor(Date.now() / 1000) - 60 }, SHARED_SECRET)}`],
      ['a JWT without exp', () => `Bearer ${internalToken({ sub: 'homeserver' }, SHARED_SECRET, null)}`],
      ['an unsigned JWT (alg none)', () => `Bearer ${unsignedToken({ exp: inAMinute() })}`],
      ['a JWT signed with HS512', () => `Bearer ${jwt.sign({ exp: inAMinute() }, SHARED_SECRET, { algorithm: 'HS512' })}`],
      ['a JWT not yet valid', () => `Bearer ${jwt.sign({ exp: inAMinute(), nbf: inAMinute() }, SHARED_SECRET)}`],
    ])('refuses %s with 401 M_UNAUTHORIZED', async (_what, authorization) => {
      const res = await call('GET', `${hs.internalUrl}/_threepid/v1/bindings/email/a%40example.org`, {
        authorization: authorization(),
      });
      expect(res.status).toBe(401);
      expectMatrixError(res.body, 'M_UNAUTHORIZED');
    });

    it('lets a correctly signed, unexpired JWT through', async () => {
      const res = await call('GET', `${hs.internalUrl}/_threepid/v1/bindings/email/a%40example.org`, {
        token: internalToken(),
      });
      expect(res.status).toBe(404);
      expectMatrixError(res.body, 'M_NOT_FOUND');
    });

    it('is not served on the public listener', async () => {
      const res = await call('GET', `${hs.url}/_threepid/v1/bindings/email/a%40example.org`, { token: internalToken() });
      expect(res.status).toBe(404);
      expectMatrixError(res.body, 'M_UNRECOGNIZED');
    });
  });

  describe('with homeserver.jwt_audience set', () => {
    beforeEach(async () => {
      hs = await start({ shared_secret: SHARED_SECRET, jwt_audience: AUDIENCE });
    });

    const getBinding = (token: string) =>
      call('GET', `${hs.internalUrl}/_threepid/v1/bindings/email/a%40example.org`, { token });

    it('refuses a JWT with another aud', async () => {
      const res = await getBinding(internalToken({ aud: 'some-other-service' }));
      expect(res.status).toBe(401);
      expectMatrixError(res.body, 'M_UNAUTHORIZED');
    });

    it('refuses a JWT without aud', async () => {
      const res = await getBinding(internalToken());
      expect(res.status).toBe(401);
      expectMatrixError(res.body, 'M_UNAUTHORIZED');
    });

    it('accepts a JWT with the configured aud', async () => {
      const res = await getBinding(internalToken({ aud: AUDIENCE }));
      expect(res.status).toBe(404);
      expectMatrixError(res.body, 'M_NOT_FOUND');
    });
  });

  describe('bindings', () => {
    beforeEach(async () => {
      hs = await start({ shared_secret: SHARED_SECRET });
    });

    const binding = (method: string, address: string, body?: unknown) =>
      call(method, `${hs.internalUrl}/_threepid/v1/bindings/email/${encodeURIComponent(address)}`, {
        token: internalToken(),
        body,
      });
    const requestToken = (route: string, email: string, clientSecret: string) =>
      post(hs.url + route, { client_secret: clientSecret, email, send_attempt: 1 });

    it('answers 404 M_NOT_FOUND for an unbound address', async () => {
      const res = await binding('GET', 'nobody@example.org');
      expect(res.status).toBe(404);
      expectMatrixError(res.body, 'M_NOT_FOUND');
    });

    it('stores, reads and deletes a binding, by canonical address', async () => {
      const put = await binding('PUT', 'Alice@Example.ORG', { user_id: '@alice:example.org' });
      expect(put.status).toBe(200);
      expect(put.body).toEqual(expect.objectContaining({ user_id: '@alice:example.org' }));

      const got = await binding('GET', 'alice@example.org');
      expect(got.status).toBe(200);
      expect(got.body.user_id).toBe('@alice:example.org');

      const deleted = await binding('DELETE', 'ALICE@example.org');
      expect(deleted.status).toBe(200);
      expectMatrixError((await binding('GET', 'alice@example.org')).body, 'M_NOT_FOUND');
      const again = await binding('DELETE', 'alice@example.org');
      expect(again.status).toBe(404);
      expectMatrixError(again.body, 'M_NOT_FOUND');
    });

    it('makes register and 3pid answer M_THREEPID_IN_USE and lets password reset through, until deleted', async () => {
      expect((await requestToken(PASSWORD, 'bob@example.org', 'before')).body).toEqual(
        expect.objectContaining({ errcode: 'M_THREEPID_NOT_FOUND' }),
      );
      expect((await binding('PUT', 'bob@example.org', { user_id: '@bob:example.org' })).status).toBe(200);

      const register = await requestToken(REGISTER, 'Bob@example.org', 'reg');
      expect(register.status).toBe(400);
      expectMatrixError(register.body, 'M_THREEPID_IN_USE');
      const add = await requestToken('/_matrix/client/v3/account/3pid/email/requestToken', 'bob@example.org', 'add');
      expect(add.status).toBe(400);
      expectMatrixError(add.body, 'M_THREEPID_IN_USE');
      expect((await requestToken(PASSWORD, 'bob@example.org', 'reset')).status).toBe(200);

      await binding('DELETE', 'bob@example.org');
      expect((await requestToken(REGISTER, 'bob@example.org', 'reg2')).status).toBe(200);
    });

    it.each<[string, unknown, string]>([
      ['a user_id that is not a Matrix ID', { user_id: 'alice' }, 'M_INVALID_PARAM'],
      ['a user_id that is not a string', { user_id: 42 }, 'M_INVALID_PARAM'],
      ['no user_id', {}, 'M_MISSING_PARAM'],
      ['a body that is not an object', '["@a:example.org"]', 'M_BAD_JSON'],
      ['a body that is not JSON', '{user_id:', 'M_NOT_JSON'],
    ])('refuses a PUT with %s', async (_what, body, errcode) => {
      const res = await binding('PUT', 'carol@example.org', body);
      expect(res.status).toBe(400);
      expectMatrixError(res.body, errcode);
      expectMatrixError((await binding('GET', 'carol@example.org')).body, 'M_NOT_FOUND');
    });

    it('refuses an invalid address or an unknown medium with 400 M_INVALID_PARAM', async () => {
      const badAddress = await binding('PUT', 'a@b.com@c.com', { user_id: '@a:example.org' });
      expect(badAddress.status).toBe(400);
      expectMatrixError(badAddress.body, 'M_INVALID_PARAM');
      const badMedium = await call('GET', `${hs.internalUrl}/_threepid/v1/bindings/phone/123`, { token: internalToken() });
      expect(badMedium.status).toBe(400);
      expectMatrixError(badMedium.body, 'M_INVALID_PARAM');
    });
  });

  describe('sessions', () => {
    beforeEach(async () => {
      hs = await start({ shared_secret: SHARED_SECRET });
    });

    const session = (route: 'validated' | 'consume', body: unknown) =>
      call('POST', `${hs.internalUrl}/_threepid/v1/sessions/${route}`, { token: internalToken(), body });

    it('refuses consume with a flow that is not register, password or 3pid', async () => {
      const res = await session('consume', { sid: 'abc', client_secret: 'def', flow: 'login' });
      expect(res.status).toBe(400);
      expectMatrixError(res.body, 'M_INVALID_PARAM');
    });

    it('refuses consume without a flow', async () => {
      const res = await session('consume', { sid: 'abc', client_secret: 'def' });
      expect(res.status).toBe(400);
      expectMatrixError(res.body, 'M_MISSING_PARAM');
    });

    it('answers 404 M_NO_VALID_SESSION for an unknown sid and for a wrong client_secret alike', async () => {
      const requested = await post(hs.url + REGISTER, { client_secret: 'right', email: 'd@example.org', send_attempt: 1 });
      expect(requested.status).toBe(200);
      for (const body of [
        { sid: 'unknownSid', client_secret: 'right' },
        { sid: requested.body.sid, client_secret: 'wrong' },
      ]) {
        for (const route of ['validated', 'consume'] as const) {
          const res = await session(route, { ...body, flow: 'register' });
          expect(res.status).toBe(404);
          expectMatrixError(res.body, 'M_NO_VALID_SESSION');
        }
      }
      const notYet = await session('validated', { sid: requested.body.sid, client_secret: 'right' });
      expect(notYet.status).toBe(400);
      expectMatrixError(notYet.body, 'M_SESSION_NOT_VALIDATED');
    });

    it('refuses a sid or client_secret outside the opaque-identifier alphabet with 400 M_INVALID_PARAM', async () => {
      const res = await session('validated', { sid: 'a b', client_secret: 'def' });
      expect(res.status).toBe(400);
      expectMatrixError(res.body, 'M_INVALID_PARAM');
    });

    it('answers 405 M_UNRECOGNIZED to a GET', async () => {
      const res = await call('GET', `${hs.internalUrl}/_threepid/v1/sessions/validated`, { token: internalToken() });
      expect(res.status).toBe(405);
      expectMatrixError(res.body, 'M_UNRECOGNIZED');
    });
  });
});

describe('homeserver.shared_secret', () => {
  it('is refused by parseConfig when shorter than 32 characters, naming the key', () => {
    let error: unknown;
    try {
      parseConfig({ homeserver: { shared_secret: 'x'.repeat(31) } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).path).toBe('homeserver.shared_secret');
    expect((error as ConfigError).message).toContain('homeserver.shared_secret');
  });

  it('is refused when a short one comes from the environment', () => {
    expect(() => parseConfig({}, { MATRIX_HS_THREEPID_SHARED_SECRET: 'short' })).toThrow(/homeserver\.shared_secret/);
  });

  it('is accepted at 32 characters', () => {
    expect(parseConfig({ homeserver: { shared_secret: 'x'.repeat(32) } }).homeserver.sharedSecret).toHaveLength(32);
  });
});
