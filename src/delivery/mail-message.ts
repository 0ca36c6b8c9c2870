/** One email, ready to go. */
export interface MailMessage {
  /** `<id@domain>`, the same for every attempt at this message. */
  readonly messageId?: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** The language tag of the text (`Content-Language`). */
  readonly language?: string;
}
