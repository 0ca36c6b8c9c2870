import type { Config } from '../config';
import type { MailTransport } from './mail-transport';
import type { EmailPayload } from './messages';
import type { Templates } from './templates';

/** Every template the email path uses, checked at start. */
export const EMAIL_TEMPLATE_FILES = ['registration', 'password_reset', 'add_threepid'].flatMap((name) => [
  `email/${name}.subject.txt`,
  `email/${name}.txt`,
  `email/${name}.html`,
]);

/** Renders an outbox email payload and hands it to the transport. */
export class EmailSender {
  constructor(
    private readonly config: Config,
    private readonly templates: Templates,
    private readonly transport: MailTransport,
  ) {}

  /**
   * `outboxId` (the message's opaque outside id) becomes the Message-ID: a
   * message sent again (its sender died between the SMTP answer and
   * recording it) carries the same ID, so mail systems and people can see
   * it is the same one.
   */
  async send(payload: EmailPayload, outboxId: string): Promise<void> {
    const view = { app_name: this.config.email.appName, server_name: this.config.serverName, link: payload.link };
    const name = `email/${payload.template}`;
    await this.transport.send({
      messageId: `<${outboxId}@${this.config.serverName}>`,
      from: this.config.email.notifFrom,
      to: payload.to,
      subject: this.templates.render(`${name}.subject.txt`, view).trim(),
      text: this.templates.render(`${name}.txt`, view),
      html: this.templates.render(`${name}.html`, view),
    });
  }
}
