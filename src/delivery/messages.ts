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
}
