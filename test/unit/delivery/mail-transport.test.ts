import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { PermanentDeliveryError } from '../../../src/delivery/errors';
import type { MailMessage } from '../../../src/delivery/mail-message';
import { createSmtpTransport, type MailTransport } from '../../../src/delivery/mail-transport';
import { startScriptedSmtp } from '../../support/scripted-smtp';
import { startSmtpSink } from '../../support/smtp';

const message: MailMessage = {
  messageId: '<transport-test@example.org>',
  from: 'Example <noreply@example.org>',
  to: 'someone@example.org',
  subject: 'Validate your address',
  text: 'Open the link',
  html: '<p>Open the link</p>',
};

const plainSmtp = (port: number, more: { user?: string; pass?: string } = {}) =>
  createSmtpTransport({ host: '127.0.0.1', port, requireTransportSecurity: false, forceTls: false, enableTls: false, ...more });

async function refusal(transport: MailTransport, mail: MailMessage = message): Promise<Error> {
  try {
    await transport.send(mail);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the send to fail');
}

/** Which SMTP refusals are final and which are retried, and the composer's way for addresses the direct one leaves. */
describe('the SMTP mail transport', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('makes a permanent 550 to RCPT TO final, and a temporary 451 one to retry', async () => {
    const refusing = await startSmtpSink({ reject: 550 });
    closers.push(() => refusing.close());
    const permanent = plainSmtp(refusing.port);
    closers.push(() => permanent.close());
    const final = await refusal(permanent);
    expect(final).toBeInstanceOf(PermanentDeliveryError);
    expect(final.message).toBe('SMTP server refused the message (550)');

    const busy = await startSmtpSink({ reject: 451 });
    closers.push(() => busy.close());
    const temporary = plainSmtp(busy.port);
    closers.push(() => temporary.close());
    const later = await refusal(temporary);
    expect(later).not.toBeInstanceOf(PermanentDeliveryError);
    expect((later as Error & { responseCode?: number }).responseCode).toBe(451);
  });

  it('makes a 554 to the message itself (after DATA) final', async () => {
    const server = await startScriptedSmtp(['reject-data-554']);
    closers.push(() => server.close());
    const smtp = plainSmtp(server.port);
    closers.push(() => smtp.close());
    const final = await refusal(smtp);
    expect(final).toBeInstanceOf(PermanentDeliveryError);
    expect(final.message).toBe('SMTP server refused the message (554)');
  });

  it('retries a 5xx to MAIL FROM (the setup is wrong, not the message)', async () => {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onMailFrom(_address, _session, callback) {
        callback(Object.assign(new Error('sender not allowed'), { responseCode: 553 }));
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const smtp = plainSmtp((server.server.address() as AddressInfo).port);
    closers.push(() => smtp.close());
    const err = await refusal(smtp);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(err).toMatchObject({ responseCode: 553, command: 'MAIL FROM' });
  });

  it('composes with the general composer a recipient or sender the direct composer does not take, with the language header', async () => {
    const sink = await startSmtpSink();
    closers.push(() => sink.close());
    const smtp = plainSmtp(sink.port);
    closers.push(() => smtp.close());
    // Two senders: not one address the direct composer could use.
    await smtp.send({ ...message, from: 'a@example.org, b@example.org', to: 'first@example.org', language: 'fr' });
    const [mail] = await sink.waitFor(1);
    expect(mail.to).toEqual(['first@example.org']);
    expect(mail.raw).toMatch(/^Content-Language: fr\r?$/m);
    expect(mail.raw).toMatch(/^From: a@example\.org, b@example\.org\r?$/m);
    expect(mail.text.trim()).toBe('Open the link');

    // A sender that parses again, and a recipient on an internationalised domain: composed the general way too.
    await smtp.send({ ...message, to: 'someone@exämple.org' });
    const [, second] = await sink.waitFor(2);
    expect(second.to).toEqual(['someone@exämple.org']);
    expect(second.from).toBe('noreply@example.org');
    expect(second.raw).not.toMatch(/^Content-Language:/m);

    // Back to the usual sender, and the direct composer.
    await smtp.send({ ...message, to: 'third@example.org', language: 'de' });
    const [, , third] = await sink.waitFor(3);
    expect(third.from).toBe('noreply@example.org');
    expect(third.raw).toMatch(/^Content-Language: de\r?$/m);
    expect(third.raw).toContain('boundary="=_threepid_');
  });

  it('logs in with the configured user and password', async () => {
    const logins: Array<[string | null | undefined, string | null | undefined]> = [];
    const server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN'],
      logger: false,
      onAuth(auth, _session, callback) {
        logins.push([auth.username, auth.password]);
        callback(null, { user: auth.username ?? undefined });
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback());
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.server.address() as AddressInfo).port;
    const withPassword = plainSmtp(port, { user: 'mailer', pass: 'hunter2' });
    closers.push(() => withPassword.close());
    await withPassword.send(message);
    expect(logins).toEqual([['mailer', 'hunter2']]);
  });
});
