/**
 * Case-folding a whole email address changed its domain: `user@straße.de`
 * became `user@strasse.de`, and the emailed link with its token went to that
 * other domain; final sigma (`σοφιας.gr`) and the Turkish dotless i (`ı`)
 * changed the same way. As the spec and Synapse's `canonicalise_email` do,
 * only the local part is case-folded; the domain is lower-cased. End to end:
 * the SMTP server receives the message at the domain as typed, lower-cased,
 * and the validated session holds that canonical address.
 */
import { domainToASCII } from 'node:url';
import { emailModuleFor, envelopeSpellings, expectSessionMailedTo, mailOfSession, submitAndAskValidated } from '../support/email-module';
import { post } from '../support/harness';

/** [typed, canonical, the domain case folding made of it]. */
const ADDRESSES: Array<[string, string, string]> = [
  ['Strauß@Straße.DE', 'strauss@straße.de', 'strasse.de'],
  ['ΣΟΦΊΑ@σοφιας.GR', 'σοφία@σοφιας.gr', 'σοφιασ.gr'],
  ['Ali@ılık.COM.TR', 'ali@ılık.com.tr', 'ilik.com.tr'],
];

describe('the email domain is lower-cased, not case-folded', () => {
  const email = emailModuleFor('all');

  it.each(ADDRESSES)('%s: the mail goes to %s, and the session holds it', async (typed, canonical, folded) => {
    const secret = `secret-${canonical.length}`;
    const requested = await post(`${email.hs.url}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: secret,
      email: typed,
      send_attempt: 1,
    });
    expect(requested.status).toBe(200);

    const mail = await mailOfSession(email.smtp, requested.body.sid as string, typed);
    expect(envelopeSpellings(canonical)).toContain(mail.to[0]);
    expect(mail.to[0]).not.toContain(folded);
    expect(mail.to[0]).not.toContain(domainToASCII(folded));

    const validated = await submitAndAskValidated(email.hs, requested, secret, mail);
    expect(validated.body).toMatchObject({ medium: 'email', address: canonical });
  });

  it('still case-folds the local part: Strauß@Example.com is strauss@example.com', async () => {
    await expectSessionMailedTo(email, 'Strauß@Example.com', 'readme-example', 'strauss@example.com');
  });
});
