// Regression: text that cannot be put in a URL or a header (a lone UTF-16
// surrogate, CR/LF, NUL) reached encodeURI or an outgoing header and was
// answered 500 ("URI malformed", "Invalid character in header content").
// Every string a client or the homeserver sends is swept here: each must be
// answered with a 400 Matrix error, never a 500.
import path from 'node:path';
import { internalToken, post, removeDir, startModule, tempDir, type JsonResponse, type Running } from '../support/harness';
import { startIdentityServer, type FakeIdentityServer } from '../support/identity-server';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const BAD_VALUES: ReadonlyArray<[string, string]> = [
  ['a lone high surrogate', 'x\ud800y'],
  ['a lone low surrogate', 'x\udfffy'],
  ['CR/LF', 'x\r\nInjected: 1'],
  ['NUL', 'x\u0000y'],
];

const EMAIL_REGISTER = '/_matrix/client/v3/register/email/requestToken';
const MSISDN_REGISTER = '/_matrix/client/v3/register/msisdn/requestToken';

let is: FakeIdentityServer;
let smtp: SmtpSink;
let dir: string;
let hs: Running;
let accessToken: string;
let proxiedSid: string;

beforeAll(async () => {
  is = await startIdentityServer({ requireTerms: false });
  smtp = await startSmtpSink();
  dir = tempDir();
  hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
    identity_server: { proxy: true, trusted: [is.hostPort], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'] },
  });
  accessToken = is.issueAccessToken();
  const proxied = await post(hs.url + EMAIL_REGISTER, {
    client_secret: 'cs', email: 'proxied@example.org', send_attempt: 1, id_server: is.hostPort, id_access_token: accessToken,
  });
  expect(proxied.status).toBe(200);
  proxiedSid = proxied.body.sid;
});

afterAll(async () => {
  await hs.close();
  await smtp.close();
  await is.close();
  removeDir(dir);
});

function expect400(res: JsonResponse): void {
  expect({ status: res.status, errcode: typeof res.body?.errcode }).toEqual({ status: 400, errcode: 'string' });
  expect(typeof res.body.error).toBe('string');
}

const emailBody = { client_secret: 'cs1', email: 'alice@example.org', send_attempt: 1 };
const proxiedBody = { ...emailBody, id_server: () => is.hostPort, id_access_token: () => accessToken };
const msisdnBody = { client_secret: 'cs1', country: 'GB', phone_number: '07700 900123', send_attempt: 1 };

/** A body with its lazy values (known only once the servers run) filled in. */
const resolved = (body: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(body).map(([key, value]) => [key, typeof value === 'function' ? value() : value]));

describe.each(BAD_VALUES)('%s', (_name, bad) => {
  it.each([
    ['email (local part)', EMAIL_REGISTER, emailBody, 'email', `ali${bad}ce@example.org`],
    ['email (domain)', EMAIL_REGISTER, emailBody, 'email', `alice@exa${bad}mple.org`],
    ['client_secret', EMAIL_REGISTER, emailBody, 'client_secret', bad],
    ['next_link', EMAIL_REGISTER, emailBody, 'next_link', `https://example.org/${bad}`],
    ['next_link (host)', EMAIL_REGISTER, emailBody, 'next_link', `https://exa${bad}mple.org/`],
    ['id_server', EMAIL_REGISTER, proxiedBody, 'id_server', `127.0.0.1${bad}`],
    ['id_access_token', EMAIL_REGISTER, proxiedBody, 'id_access_token', `ist_${bad}`],
    ['country', MSISDN_REGISTER, msisdnBody, 'country', `G${bad}`],
    ['phone_number', MSISDN_REGISTER, msisdnBody, 'phone_number', `07700 ${bad}900123`],
  ])('in requestToken %s is a 400', async (_field, endpoint, body, field, value) => {
    expect400(await post(hs.url + endpoint, { ...resolved(body), [field]: value }));
  });

  it.each([['sid'], ['client_secret'], ['token']])('in submit_token %s is a 400', async (field) => {
    const body = { sid: 'abc', client_secret: 'cs', token: 'tok', [field]: bad };
    expect400(await post(`${hs.url}/_threepid/client/v1/email/submit_token`, body));
    expect400(await post(`${hs.url}/_threepid/client/v1/msisdn/submit_token`, body));
  });

  it('in the link page form is a 400 page, not a 500', async () => {
    for (const field of ['sid', 'client_secret', 'token']) {
      const form = new URLSearchParams({ sid: 'abc', client_secret: 'cs', token: 'tok', [field]: bad });
      const res = await fetch(`${hs.url}/_threepid/client/v1/email/validate`, { method: 'POST', body: form, redirect: 'manual' });
      expect(res.status).toBe(400);
    }
  });

  const internal = (route: string, body: unknown) =>
    post(`${hs.internalUrl}/_threepid/v1/${route}`, body, { authorization: `Bearer ${internalToken()}` });

  it.each([['id_access_token'], ['id_server'], ['sid'], ['client_secret']])(
    'in the internal API’s session credentials (%s) is a 400',
    async (field) => {
      const creds = { sid: proxiedSid, client_secret: 'cs', id_server: is.hostPort, id_access_token: accessToken, [field]: bad };
      expect400(await internal('sessions/validated', creds));
      expect400(await internal('sessions/consume', { ...creds, flow: 'register' }));
      expect400(await internal('uia/threepid', { flow: 'register', auth: { type: 'm.login.email.identity', threepid_creds: creds } }));
    },
  );

  it('in a binding’s user_id is a 400', async () => {
    const res = await fetch(`${hs.internalUrl}/_threepid/v1/bindings/email/x%40example.org`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${internalToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: `@a${bad}:example.org` }),
    });
    expect400({ status: res.status, body: await res.json(), headers: res.headers });
  });
});

it.each([['a%ED%A0%80b'], ['a%0D%0Ab'], ['a%00b'], ['a%E2%80%8Bb']])('in a binding’s address (%s) is a 400', async (local) => {
  const res = await fetch(`${hs.internalUrl}/_threepid/v1/bindings/email/${local}%40example.org`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${internalToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: '@a:example.org' }),
  });
  expect(res.status).toBe(400);
});

it('sends nothing anywhere for any of these requests', () => {
  expect(smtp.messages).toHaveLength(0);
  const forwarded = is.requests.filter((r) => r.path.endsWith('/requestToken'));
  expect(forwarded).toHaveLength(1);
});
