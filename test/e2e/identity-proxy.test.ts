import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { IS_TEST_HOOKS, startIdentityServer, type FakeIdentityServer } from '../support/identity-server';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const ADD = '/_matrix/client/v3/account/3pid/email/requestToken';

async function acceptTerms(is: FakeIdentityServer, token: string): Promise<void> {
  const res = await post(`${is.url}/_matrix/identity/v2/terms`, { user_accepts: [is.termsUrl] }, { authorization: `Bearer ${token}` });
  expect(res.status).toBe(200);
}

describe('identity-server proxy mode (MSC2140)', () => {
  let is: FakeIdentityServer;
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running;

  const start = (identity: object) =>
    startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      identity_server: { proxy: true, trusted: [is.hostPort], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'], ...identity },
    });

  beforeEach(async () => {
    is = await startIdentityServer();
    smtp = await startSmtpSink();
    dir = tempDir();
  });

  afterEach(async () => {
    await hs?.close();
    await is.close();
    await smtp.close();
    removeDir(dir);
  });

  const consume = (body: object) =>
    post(`${hs.internalUrl}/_threepid/v1/sessions/consume`, body, { authorization: `Bearer ${internalToken()}` });

  it('relays M_TERMS_NOT_SIGNED unchanged, then proxies with the Bearer token once the terms are accepted', async () => {
    hs = await start({});
    const token = is.issueAccessToken('@alice:example.org');
    const request = { client_secret: 'cs1', email: 'alice@example.org', send_attempt: 1, id_server: is.hostPort, id_access_token: token };

    const refused = await post(hs.url + REGISTER, request);
    const direct = await post(`${is.url}/_matrix/identity/v2/validate/email/requestToken`, { client_secret: 'x', email: 'a@b.org', send_attempt: 1 }, { authorization: `Bearer ${token}` });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual(direct.body);
    expectResponseMatchesSpec('identity/v2_email_associations.yaml', '/validate/email/requestToken', 'post', 403, refused.body);
    expectMatrixError(refused.body, 'M_TERMS_NOT_SIGNED');

    await acceptTerms(is, token);
    const accepted = await post(hs.url + REGISTER, request);
    expect(accepted.status).toBe(200);
    expectResponseMatchesSpec('client-server/registration.yaml', '/register/email/requestToken', 'post', 200, accepted.body);
    // No submit_url: the client submits the token to the identity server itself.
    expect(accepted.body).toEqual({ sid: is.sent[0].sid });

    const forwarded = is.requests.filter((r) => r.path === '/_matrix/identity/v2/validate/email/requestToken').at(-1)!;
    expect(forwarded.headers.authorization).toBe(`Bearer ${token}`);
    expect(forwarded.body).toEqual({ client_secret: 'cs1', email: 'alice@example.org', send_attempt: 1 });
    expect(smtp.messages).toHaveLength(0);

    const creds = { sid: accepted.body.sid, client_secret: 'cs1', id_server: is.hostPort, id_access_token: token, flow: 'register' };
    const early = await consume(creds);
    expect(early.status).toBe(400);
    expectMatrixError(early.body, 'M_SESSION_NOT_VALIDATED');

    is.validate(accepted.body.sid);
    const noToken = await consume({ ...creds, id_access_token: undefined });
    expectMatrixError(noToken.body, 'M_MISSING_PARAM');
    const consumed = await consume(creds);
    expect(consumed.status).toBe(200);
    expect(consumed.body).toEqual({ medium: 'email', address: 'alice@example.org', validated_at: expect.any(Number) });
    const getValidated = is.requests.filter((r) => r.path === '/_matrix/identity/v2/3pid/getValidated3pid').at(-1)!;
    expect(getValidated.headers.authorization).toBe(`Bearer ${token}`);
    expectMatrixError((await consume(creds)).body, 'M_NO_VALID_SESSION');
  });

  it('relays M_TERMS_NOT_SIGNED at consumption too, for a token whose user has not accepted', async () => {
    hs = await start({});
    const token = is.issueAccessToken('@bob:example.org');
    await acceptTerms(is, token);
    const res = await post(hs.url + ADD, { client_secret: 'cs2', email: 'bob@example.org', send_attempt: 1, id_server: is.hostPort, id_access_token: token });
    is.validate(res.body.sid);
    const other = is.issueAccessToken('@carol:example.org');
    const refused = await consume({ sid: res.body.sid, client_secret: 'cs2', id_server: is.hostPort, id_access_token: other, flow: '3pid' });
    expect(refused.status).toBe(403);
    expectMatrixError(refused.body, 'M_TERMS_NOT_SIGNED');
  });

  it('relays the identity server’s other errors with their status', async () => {
    hs = await start({});
    const bad = await post(hs.url + REGISTER, { client_secret: 'c', email: 'a@example.org', send_attempt: 1, id_server: is.hostPort, id_access_token: 'unknown' });
    expect(bad.status).toBe(401);
    expectMatrixError(bad.body, 'M_UNAUTHORIZED');

    const token = is.issueAccessToken();
    await acceptTerms(is, token);
    const sendError = await post(hs.url + REGISTER, { client_secret: 'c', email: IS_TEST_HOOKS.sendErrorEmail, send_attempt: 1, id_server: is.hostPort, id_access_token: token });
    expect(sendError.status).toBe(400);
    expectMatrixError(sendError.body, 'M_EMAIL_SEND_ERROR');
  });

  it('requires id_access_token and a trusted, bare id_server', async () => {
    hs = await start({});
    const base = { client_secret: 'c', email: 'a@example.org', send_attempt: 1 };
    expectMatrixError((await post(hs.url + REGISTER, { ...base, id_server: is.hostPort })).body, 'M_MISSING_PARAM');
    const untrusted = await post(hs.url + REGISTER, { ...base, id_server: 'evil.example.org', id_access_token: 't' });
    expect(untrusted.status).toBe(400);
    expectMatrixError(untrusted.body, 'M_SERVER_NOT_TRUSTED');
    for (const idServer of [`http://${is.hostPort}`, `${is.hostPort}/x`, `user@${is.hostPort}`, `${is.hostPort}:99999`, '']) {
      const res = await post(hs.url + REGISTER, { ...base, id_server: idServer, id_access_token: 't' });
      expect(res.status).toBe(400);
      expect(['M_INVALID_PARAM', 'M_SERVER_NOT_TRUSTED']).toContain(res.body.errcode);
    }
    expect(is.requests.filter((r) => r.path.includes('requestToken'))).toHaveLength(0);
  });

  it('runs the homeserver’s own checks before calling the identity server', async () => {
    hs = await start({});
    await hs.module.bindings.put('email', 'taken@example.org', '@owner:example.org');
    const res = await post(hs.url + REGISTER, { client_secret: 'c', email: 'taken@example.org', send_attempt: 1, id_server: is.hostPort, id_access_token: is.issueAccessToken() });
    expectMatrixError(res.body, 'M_THREEPID_IN_USE');
    expect(is.requests).toHaveLength(0);
  });

  it('ignores id_server when proxying is off and verifies the address itself', async () => {
    hs = await start({ proxy: false });
    const res = await post(hs.url + REGISTER, { client_secret: 'c', email: 'a@example.org', send_attempt: 1, id_server: is.hostPort, id_access_token: 't' });
    expect(res.status).toBe(200);
    expect(res.body.submit_url).toBeDefined();
    await smtp.waitFor(1);
    expect(is.requests).toHaveLength(0);
  });

  describe('SSRF guard', () => {
    const request = (idServer: string) => ({ client_secret: 'c', email: 'a@example.org', send_attempt: 1, id_server: idServer, id_access_token: 't' });

    it('refuses a loopback identity server that the operator did not whitelist', async () => {
      hs = await start({ ip_range_whitelist: [] });
      const res = await post(hs.url + REGISTER, request(is.hostPort));
      expectMatrixError(res.body, 'M_SERVER_NOT_TRUSTED');
      expect(is.requests).toHaveLength(0);
    });

    it('checks the addresses a host name resolves to when connecting (no DNS rebinding)', async () => {
      const byName = `localhost:${new URL(is.url).port}`;
      hs = await start({ trusted: [byName], ip_range_whitelist: [] });
      expectMatrixError((await post(hs.url + REGISTER, request(byName))).body, 'M_SERVER_NOT_TRUSTED');
      expect(is.requests).toHaveLength(0);
      await hs.close();
      hs = await start({ trusted: [byName], ip_range_whitelist: ['127.0.0.0/8', '::1/128'] });
      const allowed = await post(hs.url + REGISTER, request(byName));
      expectMatrixError(allowed.body, 'M_UNAUTHORIZED'); // reached the identity server, which refused the token
    });

    it('speaks only https unless allow_http is set', async () => {
      hs = await start({ allow_http: false });
      const res = await post(hs.url + REGISTER, request(is.hostPort));
      expect(res.status).toBe(502);
      expectMatrixError(res.body, 'M_UNKNOWN');
    });
  });

  describe('a failing identity server gets a clear Matrix error, never its raw answer', () => {
    let upstream: Server;
    let behaviour: (res: import('node:http').ServerResponse) => void;
    let hostPort: string;
    let redirectedTo = 0;

    beforeEach(async () => {
      upstream = createServer((req, res) => {
        if (req.url === '/elsewhere') {
          redirectedTo += 1;
          return res.end('{}');
        }
        behaviour(res);
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
      hostPort = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    });
    afterEach(async () => {
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    });

    const call = async () => {
      hs = await startModule({
        database: { path: path.join(dir, 'threepid.sqlite') },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
        identity_server: { proxy: true, trusted: [hostPort], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'], timeout: '300ms' },
      });
      return post(hs.url + REGISTER, { client_secret: 'c', email: 'a@example.org', send_attempt: 1, id_server: hostPort, id_access_token: 't' });
    };

    it.each<[string, (res: import('node:http').ServerResponse) => void, number]>([
      ['not JSON', (res) => res.end('<html>oops</html>'), 502],
      ['a 500 without a Matrix error', (res) => res.writeHead(500).end('{"detail":"stack trace here"}'), 502],
      ['too large', (res) => res.end(JSON.stringify({ sid: 'x'.repeat(200_000) })), 502],
      ['a redirect', (res) => res.writeHead(302, { location: '/elsewhere' }).end(), 502],
      ['silence', () => undefined, 504],
    ])('answering %s', async (_name, how, status) => {
      behaviour = how;
      const res = await call();
      expect(res.status).toBe(status);
      expectMatrixError(res.body, 'M_UNKNOWN');
      expect(JSON.stringify(res.body)).not.toMatch(/oops|stack trace|xxxx/);
      expect(redirectedTo).toBe(0);
    });

    it('being down', async () => {
      // Port 1 on loopback: nothing listens there, so the connection is
      // refused. (A port this test closed could be taken meanwhile by another
      // test's server, which would answer instead.)
      hostPort = '127.0.0.1:1';
      const res = await call();
      expect(res.status).toBe(502);
      expectMatrixError(res.body, 'M_UNKNOWN');
    });
  });
});

describe('identity-server proxy mode with request_token_inhibit_3pid_errors', () => {
  it('forwards a refused proxied request too, so its answer is the identity server’s (no submit_url)', async () => {
    const is = await startIdentityServer({ requireTerms: false });
    const dir = tempDir();
    const hs = await startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      request_token_inhibit_3pid_errors: true,
      identity_server: { proxy: true, trusted: [is.hostPort], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'] },
    });
    try {
      await hs.module.bindings.put('email', 'taken@example.org', '@owner:example.org');
      const res = await post(hs.url + REGISTER, {
        client_secret: 'c', email: 'taken@example.org', send_attempt: 1, id_server: is.hostPort, id_access_token: is.issueAccessToken(),
      });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(['sid']);
      expect(is.requests.filter((r) => r.path.endsWith('/requestToken'))).toHaveLength(1);
    } finally {
      await hs.close();
      await is.close();
      removeDir(dir);
    }
  });
});
