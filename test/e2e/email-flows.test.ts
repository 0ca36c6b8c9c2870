import type { Flow } from '../../src/store/sessions';
import { emailModuleFor } from '../support/email-module';
import { internalToken, post, type Running } from '../support/harness';
import { linkIn, type SmtpSink } from '../support/smtp';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const SPEC_FILES: Record<Flow, [string, string]> = {
  register: ['client-server/registration.yaml', '/register/email/requestToken'],
  password: ['client-server/password_management.yaml', '/account/password/email/requestToken'],
  '3pid': ['client-server/administrative_contact.yaml', '/account/3pid/email/requestToken'],
};
const PATHS: Record<Flow, string> = {
  register: '/_matrix/client/v3/register/email/requestToken',
  password: '/_matrix/client/v3/account/password/email/requestToken',
  '3pid': '/_matrix/client/v3/account/3pid/email/requestToken',
};

describe('email verification, from requestToken to a consumed session', () => {
  const module = emailModuleFor('each', { notif_from: 'Test HS <hs@example.org>', app_name: 'TestHS' });
  let smtp: SmtpSink;
  let hs: Running;

  beforeEach(async () => {
    ({ smtp, hs } = module);
    await hs.module.bindings.put('email', 'owner@example.org', '@owner:example.org');
  });

  const internal = (route: string, body: unknown) =>
    post(`${hs.internalUrl}/_threepid/v1/sessions/${route}`, body, { authorization: `Bearer ${internalToken()}` });

  it.each<[Flow, string, string]>([
    ['register', 'New.User@Example.ORG', 'new.user@example.org'],
    ['password', 'Owner@example.org', 'owner@example.org'],
    ['3pid', 'another@example.org', 'another@example.org'],
  ])('%s: the emailed link, confirmed, validates the session for that flow only', async (flow, typed, canonical) => {
    const res = await post(hs.url + PATHS[flow], { client_secret: 'secret_1', email: typed, send_attempt: 1 });
    expect(res.status).toBe(200);
    expectResponseMatchesSpec(...SPEC_FILES[flow], 'post', res.status, res.body);
    expect(res.body.sid).toMatch(/^[0-9a-zA-Z.=_-]{22,}$/);
    expect(res.body.submit_url).toBe(`${hs.url}/_threepid/client/v1/email/submit_token`);

    const [mail] = await smtp.waitFor(1);
    expect(mail.to).toEqual([canonical]);
    expect(mail.from).toBe('hs@example.org');
    expect(mail.subject).toContain('TestHS');
    expect(mail.html).toContain('href=');
    const link = linkIn(mail);
    expect(link.searchParams.get('sid')).toBe(res.body.sid);

    // Opening the link only shows a form: a mail scanner's GET validates nothing.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post"');
    const before = await internal('validated', { sid: res.body.sid, client_secret: 'secret_1' });
    expect(before.status).toBe(400);
    expectMatrixError(before.body, 'M_SESSION_NOT_VALIDATED');

    const confirmed = await fetch(new URL(link.pathname, hs.url), {
      method: 'POST',
      body: link.searchParams,
      redirect: 'manual',
    });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('confirmed');

    const validated = await internal('validated', { sid: res.body.sid, client_secret: 'secret_1' });
    expect(validated.status).toBe(200);
    expect(validated.body).toEqual({ medium: 'email', address: canonical, validated_at: expect.any(Number) });

    const otherFlow: Flow = flow === 'password' ? 'register' : 'password';
    const wrongFlow = await internal('consume', { sid: res.body.sid, client_secret: 'secret_1', flow: otherFlow });
    expectMatrixError(wrongFlow.body, 'M_NO_VALID_SESSION');

    const consumed = await internal('consume', { sid: res.body.sid, client_secret: 'secret_1', flow });
    expect(consumed.status).toBe(200);
    expect(consumed.body.address).toBe(canonical);
    const again = await internal('consume', { sid: res.body.sid, client_secret: 'secret_1', flow });
    expect(again.status).toBe(404);
    expectMatrixError(again.body, 'M_NO_VALID_SESSION');
  });

  it('redirects to next_link with the sid after confirming, and shows success when confirmed twice', async () => {
    const res = await post(hs.url + PATHS.register, {
      client_secret: 's2',
      email: 'x@example.org',
      send_attempt: 1,
      next_link: 'https://app.element.io/#/register?x=1',
    });
    const link = linkIn((await smtp.waitFor(1))[0]);
    const confirm = () =>
      fetch(new URL(link.pathname, hs.url), { method: 'POST', body: link.searchParams, redirect: 'manual' });
    const first = await confirm();
    expect(first.status).toBe(302);
    const location = new URL(first.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://app.element.io/');
    expect(location.searchParams.get('sid')).toBe(res.body.sid);
    expect((await confirm()).status).toBe(302);
  });

  it('submit_url validates with the right token and refuses a wrong one', async () => {
    const res = await post(hs.url + PATHS['3pid'], { client_secret: 's3', email: 'y@example.org', send_attempt: 1 });
    const link = linkIn((await smtp.waitFor(1))[0]);
    const token = link.searchParams.get('token')!;

    const wrong = await post(res.body.submit_url, { sid: res.body.sid, client_secret: 's3', token: 'nope' });
    expect(wrong.status).toBe(400);
    expectResponseMatchesSpec('identity/v2_email_associations.yaml', '/validate/email/submitToken', 'post', 400, wrong.body);
    expectMatrixError(wrong.body, 'M_TOKEN_INCORRECT');

    const badSecret = await post(res.body.submit_url, { sid: res.body.sid, client_secret: 'other', token });
    expectMatrixError(badSecret.body, 'M_INVALID_PARAM');

    const ok = await post(res.body.submit_url, { sid: res.body.sid, client_secret: 's3', token });
    expect(ok.status).toBe(200);
    expectResponseMatchesSpec('identity/v2_email_associations.yaml', '/validate/email/submitToken', 'post', 200, ok.body);
    expect(ok.body).toEqual({ success: true });
  });
});
