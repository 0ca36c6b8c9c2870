/**
 * CORS on the sidecar's public listener, as the client-server spec asks of
 * every client endpoint: browsers on any origin can call it. The internal
 * listener sends none.
 */
import path from 'node:path';
import { CLIENT_SERVER_CORS_HEADERS } from '../../src/http/cors';
import { internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { expectMatrixError } from '../support/spec';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const EXPECTED = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'X-Requested-With, Content-Type, Authorization',
};

/** The CORS headers an answer carries (lower-cased names), and only those. */
function corsOf(headers: Headers): Record<string, string> {
  return Object.fromEntries([...headers].filter(([name]) => name.startsWith('access-control-')));
}

describe('CORS on the public listener', () => {
  let dir: string;
  let smtp: SmtpSink;
  let hs: Running;

  beforeAll(async () => {
    dir = tempDir('threepid-cors-');
    smtp = await startSmtpSink();
    hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') }, email: { smtp_host: '127.0.0.1', smtp_port: smtp.port } });
  });

  afterAll(async () => {
    await hs?.close();
    await smtp?.close();
    if (dir) removeDir(dir);
  });

  it('sends exactly the headers the spec names', () => {
    expect(Object.fromEntries(Object.entries(CLIENT_SERVER_CORS_HEADERS).map(([k, v]) => [k.toLowerCase(), v]))).toEqual(EXPECTED);
  });

  it('answers a browser preflight on requestToken with 200, the headers and no body', async () => {
    const res = await fetch(hs.url + REGISTER, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.element.io',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.status).toBe(200);
    expect(corsOf(res.headers)).toEqual(EXPECTED);
    expect(await res.text()).toBe('');
  });

  it.each([
    ['submit_url', '/_threepid/client/v1/email/submit_token'],
    ['the link page', '/_threepid/client/v1/email/validate'],
    ['an unknown path', '/_matrix/client/v3/no/such/endpoint'],
    ['the account endpoints', '/_matrix/client/v3/account/3pid/add'],
  ])('answers OPTIONS on %s with 200 and the headers', async (_what, route) => {
    const res = await fetch(hs.url + route, { method: 'OPTIONS' });
    expect(res.status).toBe(200);
    expect(corsOf(res.headers)).toEqual(EXPECTED);
    expect(await res.text()).toBe('');
  });

  it('puts the headers on a success', async () => {
    const res = await post(hs.url + REGISTER, { client_secret: 'cors_secret', email: 'cors@example.org', send_attempt: 1 }, { origin: 'http://other.example' });
    expect(res.status).toBe(200);
    expect(corsOf(res.headers)).toEqual(EXPECTED);
  });

  it('puts the headers on errors: bad JSON, a refused request, a wrong method, a 404', async () => {
    const notJson = await post(hs.url + REGISTER, '{not json');
    expect(notJson.status).toBe(400);
    expectMatrixError(notJson.body, 'M_NOT_JSON');
    expect(corsOf(notJson.headers)).toEqual(EXPECTED);

    const missing = await post(hs.url + REGISTER, {});
    expect(missing.status).toBe(400);
    expectMatrixError(missing.body, 'M_MISSING_PARAM');
    expect(corsOf(missing.headers)).toEqual(EXPECTED);

    const wrongMethod = await fetch(hs.url + REGISTER);
    expect(wrongMethod.status).toBe(405);
    expectMatrixError(await wrongMethod.json(), 'M_UNRECOGNIZED');
    expect(corsOf(wrongMethod.headers)).toEqual(EXPECTED);

    const unknown = await fetch(`${hs.url}/_matrix/client/v3/no/such/endpoint`);
    expect(unknown.status).toBe(404);
    expectMatrixError(await unknown.json(), 'M_UNRECOGNIZED');
    expect(corsOf(unknown.headers)).toEqual(EXPECTED);
  });

  it('puts the headers on the link page and its failure pages', async () => {
    // A link naming no session gets the failure page straight away.
    const page = await fetch(`${hs.url}/_threepid/client/v1/email/validate?sid=a&client_secret=b&token=c`);
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(corsOf(page.headers)).toEqual(EXPECTED);
    const failed = await fetch(`${hs.url}/_threepid/client/v1/email/validate`, { method: 'POST', body: new URLSearchParams({ sid: 'a', client_secret: 'b', token: 'c' }) });
    expect(failed.status).toBeGreaterThanOrEqual(400);
    expect(corsOf(failed.headers)).toEqual(EXPECTED);
  });
});

describe('no CORS on the internal listener', () => {
  let dir: string;
  let hs: Running;

  beforeAll(async () => {
    dir = tempDir('threepid-cors-internal-');
    hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') } });
  });

  afterAll(async () => {
    await hs?.close();
    if (dir) removeDir(dir);
  });

  it('answers OPTIONS as any unserved method, with no CORS headers', async () => {
    const preflight = await fetch(`${hs.internalUrl}/_threepid/v1/sessions/validated`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.element.io', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).not.toBe(200);
    expect(corsOf(preflight.headers)).toEqual({});
  });

  it('sends no CORS headers on answers, errors or 404s', async () => {
    const auth = { authorization: `Bearer ${internalToken()}` };
    const answers = [
      await fetch(`${hs.internalUrl}/health`),
      await fetch(`${hs.internalUrl}/_threepid/v1/bindings/email/nobody%40example.org`, { headers: auth }),
      await post(`${hs.internalUrl}/_threepid/v1/sessions/validated`, { sid: 'x', client_secret: 'y' }),
      await fetch(`${hs.internalUrl}/no/such/path`),
    ];
    expect(answers.map((res) => res.status)).toEqual([200, 404, 401, 404]);
    for (const res of answers) expect(corsOf(res.headers)).toEqual({});
  });
});
