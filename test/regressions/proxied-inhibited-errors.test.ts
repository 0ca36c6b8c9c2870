// Regression: with request_token_inhibit_3pid_errors and identity-server
// proxy mode, a refused request (register with a bound address, password
// reset with an unbound one) got a local decoy `200 {sid}` while an allowed
// one was forwarded, so the identity server's errors told them apart: a bad
// id_access_token gave 401 for one and 200 for the other, an unreachable
// identity server 502 against 200. Refused requests are now forwarded too,
// and the session they start is recorded so that nothing can spend it.
import path from 'node:path';
import { freePort } from '../support/e2e-utils';
import { internalToken, post, removeDir, startModule, tempDir, type JsonResponse, type Running } from '../support/harness';
import { startIdentityServer, type FakeIdentityServer } from '../support/identity-server';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const PASSWORD = '/_matrix/client/v3/account/password/email/requestToken';
const BOUND = 'taken@example.org';

let is: FakeIdentityServer;
let deadHost: string;
let dir: string;
let hs: Running;
let n = 0;

beforeAll(async () => {
  is = await startIdentityServer({ requireTerms: true });
  deadHost = `127.0.0.1:${await freePort()}`;
  dir = tempDir();
  hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    request_token_inhibit_3pid_errors: true,
    identity_server: { proxy: true, trusted: [is.hostPort, deadHost], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'] },
  });
  await hs.module.bindings.put('email', BOUND, '@owner:example.org');
});

afterAll(async () => {
  await hs.close();
  await is.close();
  removeDir(dir);
});

/** What an answer lets a caller compare: status, errcode, and the body's keys. */
const shape = (res: JsonResponse) => ({ status: res.status, errcode: res.body?.errcode, keys: Object.keys(res.body ?? {}).sort() });

const ask = (endpoint: string, email: string, idServer: string, token: string) =>
  post(hs.url + endpoint, { client_secret: `cs${++n}`, email, send_attempt: 1, id_server: idServer, id_access_token: token });

async function acceptedToken(): Promise<string> {
  const token = is.issueAccessToken(`@user${++n}:example.org`);
  const res = await post(`${is.url}/_matrix/identity/v2/terms`, { user_accepts: [is.termsUrl] }, { authorization: `Bearer ${token}` });
  expect(res.status).toBe(200);
  return token;
}

describe.each([
  ['password reset', PASSWORD, BOUND, 'nobody@example.org'],
  ['registration', REGISTER, 'nobody@example.org', BOUND],
])('%s: a refused request and an allowed one get the same answer', (_flow, endpoint, allowed, refused) => {
  it('with an id_access_token the identity server does not know (401)', async () => {
    const a = await ask(endpoint, allowed, is.hostPort, 'garbage');
    const r = await ask(endpoint, refused, is.hostPort, 'garbage');
    expect(a.status).toBe(401);
    expect(shape(r)).toEqual(shape(a));
  });

  it('with a user who has not accepted the terms (403)', async () => {
    const token = is.issueAccessToken();
    const a = await ask(endpoint, allowed, is.hostPort, token);
    const r = await ask(endpoint, refused, is.hostPort, token);
    expect(a.status).toBe(403);
    expect(shape(r)).toEqual(shape(a));
  });

  it('with an identity server that cannot be reached (502)', async () => {
    const a = await ask(endpoint, allowed, deadHost, 'any');
    const r = await ask(endpoint, refused, deadHost, 'any');
    expect(a.status).toBe(502);
    expect(shape(r)).toEqual(shape(a));
  });

  it('with a good token (200 {sid}), and only the allowed session can be spent', async () => {
    const token = await acceptedToken();
    const a = await ask(endpoint, allowed, is.hostPort, token);
    const r = await ask(endpoint, refused, is.hostPort, token);
    expect(a.status).toBe(200);
    expect(shape(r)).toEqual(shape(a));

    // Both are validated at the identity server; only the allowed one proves
    // anything here. The refused one, only now, gets the refusal its request was spared.
    is.validate(a.body.sid);
    is.validate(r.body.sid);
    const flow = endpoint === REGISTER ? 'register' : 'password';
    const consume = (sid: string, secret: string) =>
      post(
        `${hs.internalUrl}/_threepid/v1/sessions/consume`,
        { sid, client_secret: secret, id_server: is.hostPort, id_access_token: token, flow },
        { authorization: `Bearer ${internalToken()}` },
      );
    const secretOf = (sid: string) => is.sent.find((m) => m.sid === sid)!.clientSecret;
    const spentAllowed = await consume(a.body.sid, secretOf(a.body.sid));
    expect(spentAllowed.status).toBe(200);
    expect(spentAllowed.body.address).toBe(allowed);
    const spentRefused = await consume(r.body.sid, secretOf(r.body.sid));
    expect(spentRefused.status).toBe(400);
    expect(spentRefused.body.errcode).toBe(flow === 'register' ? 'M_THREEPID_IN_USE' : 'M_THREEPID_NOT_FOUND');
  });
});
