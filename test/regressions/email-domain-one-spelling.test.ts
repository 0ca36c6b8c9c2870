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
import { emailModuleFor, envelopeSpellings, mailOfSession, submitAndAskValidated } from '../support/email-module';
import { post } from '../support/harness';
import { expectMatrixError } from '../support/spec';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';

describe('an email domain has one spelling', () => {
  const module = emailModuleFor('all');

  beforeAll(async () => {
    await module.hs.module.bindings.put('email', 'a@example.com', '@a:example.org');
    await module.hs.module.bindings.put('email', 'b@straße.de', '@b:example.org');
  });

  const ask = (email: string, secret: string) => post(`${module.hs.url}${REGISTER}`, { client_secret: secret, email, send_attempt: 1 });

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
    const mail = await mailOfSession(module.smtp, requested.body.sid as string, typed);
    expect(mail.to).toHaveLength(1);
    expect(envelopeSpellings(stored)).toContain(mail.to[0]);

    const validated = await submitAndAskValidated(module.hs, requested, secret, mail);
    expect(validated.body).toMatchObject({ medium: 'email', address: stored });
  });
});
