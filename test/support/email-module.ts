/**
 * The module on a fresh SQLite file, mailing through a real SMTP sink, and
 * the steps the email tests share: find the mail of a session, submit its
 * token, ask which address the session proved.
 */
import path from 'node:path';
import { domainToASCII } from 'node:url';
import type { RawConfig } from '../../src/config';
import { eventually } from './e2e-utils';
import { internalToken, post, removeDir, startModule, tempDir, type JsonResponse, type Running } from './harness';
import { linkIn, startSmtpSink, type ReceivedMail, type SmtpSink } from './smtp';

export interface EmailModule {
  readonly smtp: SmtpSink;
  readonly hs: Running;
}

/**
 * Registers hooks that start the module and its SMTP sink before all the
 * block's tests (or each of them) and close both after; `email` settings go
 * over the sink's host and port.
 */
export function emailModuleFor(
  scope: 'all' | 'each',
  email: Omit<NonNullable<RawConfig['email']>, 'smtp_host' | 'smtp_port'> = {},
): EmailModule {
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running;

  const start = async () => {
    smtp = await startSmtpSink();
    dir = tempDir();
    hs = await startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, ...email },
    });
  };
  const stop = async () => {
    await hs.close();
    await smtp.close();
    removeDir(dir);
  };
  if (scope === 'all') {
    beforeAll(start);
    afterAll(stop);
  } else {
    beforeEach(start);
    afterEach(stop);
  }
  return {
    get smtp() {
      return smtp;
    },
    get hs() {
      return hs;
    },
  };
}

/** An address as an SMTP envelope may carry it: in Unicode (SMTPUTF8), or with the domain in its ASCII form, which names the same host. */
export function envelopeSpellings(address: string): string[] {
  const at = address.lastIndexOf('@');
  return [address, `${address.slice(0, at)}@${domainToASCII(address.slice(at + 1))}`];
}

/** The mail whose link names this session, once it has arrived. */
export async function mailOfSession(smtp: SmtpSink, sid: string, what: string): Promise<ReceivedMail> {
  const found = await eventually<ReceivedMail | undefined>(
    () => smtp.messages.find((m) => linkIn(m).searchParams.get('sid') === sid),
    `the email of ${what}`,
  );
  return found!;
}

/**
 * Submits the token of the mail's link to the session's submit_url (expecting
 * success), then answers what the homeserver's API says the session proved.
 */
export async function submitAndAskValidated(hs: Running, requested: JsonResponse, secret: string, mail: ReceivedMail): Promise<JsonResponse> {
  const submitted = await post(requested.body.submit_url as string, {
    sid: requested.body.sid,
    client_secret: secret,
    token: linkIn(mail).searchParams.get('token'),
  });
  expect(submitted.body).toEqual({ success: true });
  return post(
    `${hs.internalUrl}/_threepid/v1/sessions/validated`,
    { sid: requested.body.sid, client_secret: secret },
    { authorization: `Bearer ${internalToken()}` },
  );
}

/** Requests a registration token for `email`: it is granted, and the session's mail comes to `to`. */
export async function expectSessionMailedTo({ hs, smtp }: EmailModule, email: string, secret: string, to: string): Promise<void> {
  const requested = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: secret, email, send_attempt: 1 });
  expect(requested.status).toBe(200);
  const mail = await smtp.nthTo(to, 1);
  expect(linkIn(mail).searchParams.get('sid')).toBe(requested.body.sid);
}
