import type { EmailTemplate } from '../threepid/flows';

/**
 * What the outbox stores for one email: enough to render it at send time.
 * `link` carries the token, which is why the outbox clears the payload once
 * the message is sent or given up on.
 */
export interface EmailPayload {
  readonly template: EmailTemplate;
  readonly to: string;
  readonly link: string;
  /** The language to write it in; absent in messages queued before there were languages (the default one). */
  readonly language?: string;
}

/** What the outbox stores for one text message: the code is rendered into `templates/sms/code.txt` at send time. */
export interface SmsPayload {
  /** E.164 without `+`. */
  readonly to: string;
  readonly code: string;
  readonly language?: string;
}
