import path from 'node:path';
import { eventually } from '../support/e2e-utils';
import { CapturingLogger, internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

/** Addresses and secrets that must never reach a log line, in any form. */
const EMAIL = 'leaky.person@private-example.org';
const BOUND_EMAIL = 'bound.person@private-example.org';
const THROWING_EMAIL = 'throws.person@private-example.org';
const PHONE = '33612345674';
const SECRET = 'NeverLogThisClientSecret123';
const TOKEN = 'NeverLogThisToken456';

/**
 * Every error path, driven with an address and a secret in it (in the
 * path, the query, the body): the request log, the refusal and
 * unexpected-error lines, and the delivery failures. The whole log output
 * is then searched for them, raw and %-encoded.
 */
describe('logs carry no address and no secret', () => {
  let dir: string;
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let hs: Running;
  let logger: CapturingLogger;

  beforeAll(async () => {
    dir = tempDir('threepid-logs-');
    smtp = await startSmtpSink({ reject: 451 });
    gateway = await startSmsGateway();
    logger = new CapturingLogger();
    hs = await startModule(
      {
        database: { path: path.join(dir, 'threepid.sqlite') },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
        sms: twilioSmsConfig(gateway.url),
      },
      {
        logger,
        // A host directory that fails for one address: the unexpected-error path.
        directory: {
          findUserId: async (_medium, address) => {
            if (address === THROWING_EMAIL) throw new Error('directory unavailable');
            return address === BOUND_EMAIL ? '@bound:example.org' : null;
          },
        },
      },
    );
  });

  afterAll(async () => {
    await hs.close();
    await smtp.close();
    await gateway.close();
    removeDir(dir);
  });

  const auth = { authorization: `Bearer ${internalToken()}` };
  const send = (base: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(base + urlPath, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      redirect: 'manual',
    }).then(async (response) => ({ status: response.status, text: await response.text() }));

  it('drives every error path, then finds none of them in the log', async () => {
    const statuses: number[] = [];
    const pub = (method: string, urlPath: string, body?: unknown) => send(hs.url, method, urlPath, body).then((r) => statuses.push(r.status));
    const internal = (method: string, urlPath: string, body?: unknown, headers = auth) =>
      send(hs.internalUrl, method, urlPath, body, headers).then((r) => statuses.push(r.status));
    const emailPath = (address: string) => `/_threepid/v1/bindings/email/${encodeURIComponent(address)}`;

    // requestToken: refused (bound address), unexpected error (the directory throws), bad inputs, bad JSON.
    await pub('POST', '/_matrix/client/v3/register/email/requestToken', { client_secret: SECRET, email: BOUND_EMAIL, send_attempt: 1 });
    await pub('POST', '/_matrix/client/v3/register/email/requestToken', { client_secret: SECRET, email: THROWING_EMAIL, send_attempt: 1 });
    await pub('POST', '/_matrix/client/v3/register/email/requestToken', { client_secret: `${SECRET}!`, email: EMAIL, send_attempt: 1 });
    await pub('POST', '/_matrix/client/v3/register/email/requestToken', { client_secret: SECRET, email: `${EMAIL}@x`, send_attempt: 1 });
    await pub('POST', '/_matrix/client/v3/register/email/requestToken', `{"client_secret":"${SECRET}","email":"${EMAIL}",`);
    await pub('POST', '/_matrix/client/v3/register/email/requestToken', { client_secret: SECRET, email: EMAIL, send_attempt: 'one' });
    await pub('POST', '/_matrix/client/v3/account/password/msisdn/requestToken', { client_secret: SECRET, country: 'FR', phone_number: PHONE, send_attempt: 1 });
    // Real sessions, whose messages then fail: SMTP answers 451 (retried), the SMS gateway refuses (given up on).
    gateway.failNext(1, 400);
    await pub('POST', '/_matrix/client/v3/register/email/requestToken', { client_secret: SECRET, email: EMAIL, send_attempt: 1 });
    await pub('POST', '/_matrix/client/v3/register/msisdn/requestToken', { client_secret: SECRET, country: 'FR', phone_number: `+${PHONE}`, send_attempt: 1 });
    // submit_url and the link page with wrong tokens and secrets.
    await pub('POST', '/_threepid/client/v1/email/submit_token', { sid: 'nosuchsession', client_secret: SECRET, token: TOKEN });
    await pub('POST', '/_threepid/client/v1/msisdn/submit_token', { sid: SECRET, client_secret: SECRET, token: TOKEN });
    await pub('GET', `/_threepid/client/v1/email/validate?token=${TOKEN}&client_secret=${SECRET}&sid=${SECRET}`);
    await pub('POST', `/_threepid/client/v1/email/validate?email=${encodeURIComponent(EMAIL)}`, `token=${TOKEN}`);
    await pub('GET', `/_matrix/client/v3/register/email/requestToken?email=${encodeURIComponent(EMAIL)}&client_secret=${SECRET}`);
    await pub('GET', `/nowhere/${encodeURIComponent(EMAIL)}?client_secret=${SECRET}`);
    // The internal API: bindings with the address in the path, refused for every reason it has.
    await internal('GET', emailPath(EMAIL));
    await internal('GET', emailPath(EMAIL), undefined, { authorization: `Bearer ${SECRET}` });
    await internal('GET', emailPath(EMAIL), undefined, {} as typeof auth);
    await internal('PUT', emailPath(EMAIL), { user_id: 'not a user id' });
    await internal('PUT', emailPath(EMAIL), `{"user_id": "${EMAIL}"`);
    await internal('PUT', `/_threepid/v1/bindings/fax/${encodeURIComponent(EMAIL)}`, { user_id: '@a:example.org' });
    await internal('DELETE', emailPath(EMAIL));
    await internal('POST', emailPath(EMAIL));
    await internal('GET', `/_threepid/v1/bindings/msisdn/${PHONE}`);
    await internal('GET', `/_threepid/v1/bindings/email/%E0%A4%A${encodeURIComponent(EMAIL)}`);
    await internal('POST', '/_threepid/v1/sessions/validated', { sid: SECRET, client_secret: SECRET });
    await internal('POST', '/_threepid/v1/sessions/consume', { sid: SECRET, client_secret: SECRET, flow: 'register' });
    await internal('POST', '/_threepid/v1/uia/threepid', {
      auth: { type: 'm.login.email.identity', threepid_creds: { sid: SECRET, client_secret: SECRET } },
      flow: 'register',
    });

    // The two real sessions; everything else refused (the link page names no session of ours: its failure page).
    expect(statuses.filter((status) => status < 400)).toEqual([200, 200]);
    expect(statuses).toContain(500);
    // The deliveries failed, and said so.
    await eventually(() => logger.text().includes('delivery failed; will retry'), 'the email delivery failure to be logged');
    await eventually(() => logger.text().includes('message given up on'), 'the SMS refusal to be logged');

    const text = logger.text();
    expect(text).toContain('unexpected error');
    expect(text).toContain('request refused');
    const forbidden = [EMAIL, BOUND_EMAIL, THROWING_EMAIL, PHONE, SECRET, TOKEN];
    const leaks = forbidden.flatMap((value) =>
      [value, encodeURIComponent(value), value.split('@')[0]].filter((form) => text.includes(form)).map((form) => form),
    );
    expect(leaks).toEqual([]);
  });
});
