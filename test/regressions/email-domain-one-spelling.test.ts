/**
 * The email domain was only lower-cased, so one mailbox had several stored
 * spellings and a bound address was "not in use" under another:
 * `a@example.com。` and `a@example.com｡` (ideographic and halfwidth full
 * stops) were new addresses, though nodemailer sent both to
 * `a@example.com.`; `b@xn--strae-oqa.de` was new beside `b@straße.de`; and
 * `a@victim.com。attacker.net` was stored as typed but mailed to
 * `victim.com.attacker.net`. Now the domain is UTS-46-mapped to one
 * spelling (kept in Unicode), a trailing dot is refused, and the mail goes
 * to the stored address.
 * End to end, with a real SMTP server.
 */
import path from 'node:path';
import { domainToASCII } from 'node:url';
import { eventually } from '../support/e2e-utils';
import { internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { linkIn, startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp';
import { expectMatrixError } from '../support/spec';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';

/**
 * The stored address as an SMTP envelope may carry it: as it is (SMTPUTF8),
 * or with the domain in its ASCII form, which names the same host.
 */
function spellings(address: string): string[] {
  const at = address.lastIndexOf('@');
  return [address, `${address.slice(0, at)}@${domainToASCII(address.slice(at + 1))}`];
}

describe('an email domain has one spelling', () => {
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    dir = tempDir();
    hs = await startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
    });
    await hs.module.bindings.put('email', 'a@example.com', '@a:example.org');
    await hs.module.bindings.put('email', 'b@straße.de', '@b:example.org');
  });

  afterAll(async () => {
    await hs.close();
    await smtp.close();
    removeDir(dir);
  });

  const ask = (email: string, secret: string) => post(`${hs.url}${REGISTER}`, { client_secret: secret, email, send_attempt: 1 });

  it.each([
    ['the A-label of a bound Unicode domain', 'b@xn--strae-oqa.de'],
    ['the A-label in capitals', 'B@XN--STRAE-OQA.DE'],
    ['the Unicode domain in capitals', 'b@Straße.DE'],
  ])('%s (%s) is in use', async (_what, email) => {
    const answer = await ask(email, 'in-use');
    expect(answer.status).toBe(400);
    expectMatrixError(answer.body, 'M_THREEPID_IN_USE');
  });

  it.each([
    ['an ideographic full stop', 'a@example.com\u3002'],
    ['a halfwidth ideographic full stop', 'a@example.com\uFF61'],
    ['a full stop', 'a@example.com.'],
    ['a fullwidth full stop', 'a@example.com\uFF0E'],
  ])('a domain ending with %s is refused, not a new address', async (_what, email) => {
    const answer = await ask(email, 'trailing-dot');
    expect(answer.status).toBe(400);
    expectMatrixError(answer.body, 'M_INVALID_PARAM');
  });

  it('a domain that does not map is refused', async () => {
    const answer = await ask('a@xn--zz.example.com', 'bad-label');
    expect(answer.status).toBe(400);
    expectMatrixError(answer.body, 'M_INVALID_PARAM');
  });

  it.each([
    ['an ideographic full stop inside the domain', 'a@victim.com\u3002attacker.net', 'a@victim.com.attacker.net'],
    ['an A-label', 'c@XN--STRAE-OQA.DE', 'c@straße.de'],
  ])('with %s, the mail goes where the stored address says', async (_what, typed, stored) => {
    const secret = `mailed-${stored.length}`;
    const requested = await ask(typed, secret);
    expect(requested.status).toBe(200);
    const sid = requested.body.sid as string;
    const mail = await eventually<ReceivedMail | undefined>(
      () => smtp.messages.find((m) => linkIn(m).searchParams.get('sid') === sid),
      `the email of ${typed}`,
    ).then((found) => found!);
    expect(mail.to).toHaveLength(1);
    expect(spellings(stored)).toContain(mail.to[0]);
    const link = linkIn(mail);

    const submitted = await post(requested.body.submit_url as string, {
      sid: requested.body.sid,
      client_secret: secret,
      token: link.searchParams.get('token'),
    });
    expect(submitted.body).toEqual({ success: true });
    const validated = await post(
      `${hs.internalUrl}/_threepid/v1/sessions/validated`,
      { sid: requested.body.sid, client_secret: secret },
      { authorization: `Bearer ${internalToken()}` },
    );
    expect(validated.body).toMatchObject({ medium: 'email', address: stored });
  });
});
