import type { MailTransport } from './mail-transport';
import type { EmailPayload } from './messages';
import { RenderedOnce } from './rendered-once';
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

/** An email's parts for one template and language, each filled in with the message's link. */
interface EmailLayout {
  readonly language: string;
  readonly subject: (link: string) => string;
  readonly text: (link: string) => string;
  readonly html: (link: string) => string;
}

/** Renders made with every special character of HTML in the link, to check that filling holes gives what rendering would. */
const PROBE_LINK = 'https://example.org/p?a=1&b=<\'"`>/c';
/** Layouts kept, at most: one per template and language asked for (a language the catalogs lack is asked for by its own tag). */
const MAX_LAYOUTS = 512;

/** Renders an outbox email payload, in its language, and hands it to the transport. */
export class EmailSender {
  private readonly layouts = new Map<string, EmailLayout>();

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
    const layout = this.layout(payload.template, payload.language ?? this.config.email.defaultLanguage);
    await this.transport.send({
      messageId: `<${outboxId}@${this.config.serverName}>`,
      from: this.config.email.notifFrom,
      to: payload.to,
      subject: layout.subject(payload.link),
      text: layout.text(payload.link),
      html: layout.html(payload.link),
      // The body's language: one without a catalog of its own falls back down its chain.
      language: layout.language,
    }, signal);
  }

  /** The template's parts in `language`, rendered once: the view is the same for every message but its link. */
  private layout(template: EmailPayload['template'], language: string): EmailLayout {
    const key = `${template}\u0000${language}`;
    let layout = this.layouts.get(key);
    if (layout) return layout;
    const name = `email/${template}`;
    const view = (link: string) => ({ ...this.brand, ...expiryView(this.config.email.validationTokenLifetimeMs), link });
    const part = (file: string) => {
      const render = (link: string) => this.templates.render(file, language, view(link));
      const once = RenderedOnce.of(render, PROBE_LINK);
      return once ? (link: string) => once.with(link) : render;
    };
    const wordsIn = this.templates.renderWithLanguage(`${name}.txt`, language, view(PROBE_LINK)).language;
    // A subject the config sets (Synapse's `email.subjects`) is written in the default language.
    const configured = wordsIn === this.config.email.defaultLanguage ? this.subject(template) : undefined;
    const subject = configured === undefined ? part(`${name}.subject.txt`) : undefined;
    layout = {
      language: wordsIn,
      subject: subject ? (link) => subject(link).trim() : () => configured!,
      text: part(`${name}.txt`),
      html: part(`${name}.html`),
    };
    if (this.layouts.size >= MAX_LAYOUTS) this.layouts.clear();
    this.layouts.set(key, layout);
    return layout;
  }
}
