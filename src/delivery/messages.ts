export type { EmailPayload, SmsPayload } from '../model';
