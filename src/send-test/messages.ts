import type { Config } from '../config';
import { brandingView } from '../delivery/branding';
import { EmailSender } from '../delivery/email-sender';
import type { MailMessage } from '../delivery/mail-message';
import type { MailTransport } from '../delivery/mail-transport';
import { SmsSender, type SmsTransport } from '../delivery/sms-senders';
import { Templates } from '../delivery/templates';
import { EMAIL_VALIDATE_PATH } from '../threepid/paths';

/** The code a test text carries: no session has it. */
export const TEST_CODE = '000000';

/** Said first, so whoever reads a test message knows it asks nothing of them. */
const EMAIL_NOTICE = 'This is a test message sent with matrix-hs-threepid --send-test. Its link is not a real one: there is nothing to confirm.';
const SMS_NOTICE = 'Test message (matrix-hs-threepid --send-test), the code is not a real one:';

/** A link to the real page on `public_baseurl`, whose query says it is not a session's. */
export function testLink(config: Config): string {
  const query = new URLSearchParams({ token: 'send-test-not-a-real-token', client_secret: 'send-test', sid: 'send-test' });
  return `${config.publicBaseurl}${EMAIL_VALIDATE_PATH}?${query.toString()}`;
}

/**
 * The registration email, rendered by the module's own sender from the
 * operator's templates, marked as a test in its subject and first line,
 * then handed to `transport`.
 */
export function sendTestEmail(config: Config, to: string, transport: MailTransport): Promise<void> {
  const marked: MailTransport = {
    send: (message: MailMessage, signal) =>
      transport.send({ ...message, subject: `[Test] ${message.subject}`, text: `${EMAIL_NOTICE}\n\n${message.text}` }, signal),
    close: () => transport.close(),
  };
  const templates = new Templates(config.templatesDir, config.email.defaultLanguage);
  const sender = new EmailSender(config, brandingView(config, 'email'), templates, marked);
  return sender.send({ template: 'registration', to, link: testLink(config) }, `send-test-${Date.now()}`);
}

/** The code text, rendered by the module's own sender, its first line saying it is a test, handed to `transport`. */
export function sendTestSms(config: Config, msisdn: string, transport: SmsTransport): Promise<void> {
  const marked: SmsTransport = {
    send: (message, signal) => transport.send({ ...message, text: `${SMS_NOTICE}\n${message.text}` }, signal),
  };
  const templates = new Templates(config.templatesDir, config.email.defaultLanguage);
  return new SmsSender(config, templates, marked).send({ to: msisdn, code: TEST_CODE });
}
