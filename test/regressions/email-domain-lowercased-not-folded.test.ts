/**
 * Case-folding a whole email address changed its domain: `user@straße.de`
 * became `user@strasse.de`, and the emailed link with its token went to that
 * other domain; final sigma (`σοφιας.gr`) and the Turkish dotless i (`ı`)
 * changed the same way. As the spec and Synapse's `canonicalise_email` do,
 * only the local part is case-folded; the domain is lower-cased. End to end:
 * the SMTP server receives the message at the domain as typed, lower-cased,
 * and the validated session holds that canonical address.
 */
import path from 'node:path';
import { domainToASCII } from 'node:url';
import { eventually } from '../support/e2e-utils';
import { internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { linkIn, startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp';

/** [typed, canonical, the domain case folding made of it]. */
const ADDRESSES: Array<[string, string, string]> = [
  ['Strauß@Straße.DE', 'strauss@straße.de', 'strasse.de'],
  ['ΣΟΦΊΑ@σοφιας.GR', 'σοφία@σοφιας.gr', 'σοφιασ.gr'],
  ['Ali@ılık.COM.TR', 'ali@ılık.com.tr', 'ilik.com.tr'],
];

/** The recipient as the SMTP envelope may carry it: in Unicode (SMTPUTF8), or with the domain in its ASCII form. */
function spellings(address: string): string[] {
  const at = address.lastIndexOf('@');
  return [address, `${address.slice(0, at)}@${domainToASCII(address.slice(at + 1))}`];
}

describe('the email domain is lower-cased, not case-folded', () => {
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
  });

  afterAll(async () => {
    await hs.close();
    await smtp.close();
    removeDir(dir);
  });

  it.each(ADDRESSES)('%s: the mail goes to %s, and the session holds it', async (typed, canonical, folded) => {
    const secret = `secret-${canonical.length}`;
    const requested = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: secret,
      email: typed,
      send_attempt: 1,
    });
    expect(requested.status).toBe(200);

    const sid = requested.body.sid as string;
    const mail = await eventually<ReceivedMail | undefined>(
      () => smtp.messages.find((m) => linkIn(m).searchParams.get('sid') === sid),
      `the email of ${typed}`,
    ).then((found) => found!);
    expect(spellings(canonical)).toContain(mail.to[0]);
    expect(mail.to[0]).not.toContain(folded);
    expect(mail.to[0]).not.toContain(domainToASCII(folded));

    const link = linkIn(mail);
    const submitted = await post(requested.body.submit_url as string, {
      sid: requested.body.sid,
      client_secret: secret,
      token: link.searchParams.get('token'),
    });
    expect(submitted.body).toEqual({ success: true });
    const validated = await post(
      `${hs.internalUrl}/_threepid/v1/sessions/validated`,
      { sid, client_secret: secret },
      { authorization: `Bearer ${internalToken()}` },
    );
    expect(validated.body).toMatchObject({ medium: 'email', address: canonical });
  });

  it('still case-folds the local part: Strauß@Example.com is strauss@example.com', async () => {
    const requested = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'readme-example',
      email: 'Strauß@Example.com',
      send_attempt: 1,
    });
    expect(requested.status).toBe(200);
    const mail = await smtp.nthTo('strauss@example.com', 1);
    expect(linkIn(mail).searchParams.get('sid')).toBe(requested.body.sid);
  });
});
