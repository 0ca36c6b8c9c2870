import type { MailTransport } from './mail-transport';
import type { EmailPayload } from './messages';
import type { Templates } from './templates';

/** Every template the email path uses, checked at start (in every language). */
export const EMAIL_TEMPLATE_FILES = ['registration', 'password_reset', 'add_threepid'].flatMap((name) => [
  `email/${name}.subject.txt`,
  `email/${name}.txt`,
  `email/${name}.html`,
]);

const MINUTE_MS = 60_000;

/**
 * How a mail says how long its link works: in days, hours or minutes,
 * whichever unit counts it whole (90 minutes stay 90 minutes), as a
 * `count` for the message's plural and a flag naming the unit.
 */
export function expiryView(lifetimeMs: number): { count: number; expiry_minutes?: true; expiry_hours?: true; expiry_days?: true } {
  const minutes = Math.max(1, Math.round(lifetimeMs / MINUTE_MS));
  if (minutes % (24 * 60) === 0) return { count: minutes / (24 * 60), expiry_days: true };
  if (minutes % 60 === 0) return { count: minutes / 60, expiry_hours: true };
  return { count: minutes, expiry_minutes: true };
}

/** What the email path reads of the configuration. */
export interface EmailSenderSettings {
  /** The domain of each Message-ID. */
  readonly serverName: string;
  readonly email: {
    readonly notifFrom: string;
    readonly defaultLanguage: string;
    /** How long the emailed link works: the mail says so. */
    readonly validationTokenLifetimeMs: number;
    /** Subjects set in the config (Synapse's `email.subjects`), used instead of the subject templates. */
    readonly subjects: { readonly registration?: string; readonly passwordReset?: string; readonly addThreepid?: string };
  };
}

/** Renders an outbox email payload, in its language, and hands it to the transport. */
export class EmailSender {
  constructor(
    private readonly config: EmailSenderSettings,
    /** The operator's branding, as the email templates show it. */
    private readonly brand: Readonly<Record<string, string | undefined>>,
    private readonly templates: Templates,
    private readonly transport: MailTransport,
  ) {}

  /** A subject the config sets (Synapse's `email.subjects`) wins over the subject template. */
  private subject(template: EmailPayload['template']): string | undefined {
    const { subjects } = this.config.email;
    return { registration: subjects.registration, password_reset: subjects.passwordReset, add_threepid: subjects.addThreepid }[template];
  }

  /**
   * `outboxId` (the message's opaque outside id) becomes the Message-ID: a
   * message sent again (its sender died between the SMTP answer and
   * recording it) carries the same ID, so mail systems and people can see
   * it is the same one.
   */
  async send(payload: EmailPayload, outboxId: string, signal?: AbortSignal): Promise<void> {
    const view = { ...this.brand, ...expiryView(this.config.email.validationTokenLifetimeMs), link: payload.link };
    const name = `email/${payload.template}`;
    const language = payload.language ?? this.config.email.defaultLanguage;
    const text = this.templates.renderWithLanguage(`${name}.txt`, language, view);
    await this.transport.send({
      messageId: `<${outboxId}@${this.config.serverName}>`,
      from: this.config.email.notifFrom,
      to: payload.to,
      // A subject the config sets (Synapse's `email.subjects`) is written in the default language.
      subject:
        (text.language === this.config.email.defaultLanguage ? this.subject(payload.template) : undefined) ??
        this.templates.render(`${name}.subject.txt`, language, view).trim(),
      text: text.text,
      html: this.templates.render(`${name}.html`, language, view),
      // The body's language: one without a catalog of its own falls back down its chain.
      language: text.language,
    }, signal);
  }
}
