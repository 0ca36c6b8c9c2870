/**
 * `--send-test`: one real message through the configured transport, outside
 * the outbox (no database, nothing stored), its conversation printed, so an
 * operator can see what the mail server or SMS provider makes of it.
 */
import type { Config } from '../config';
import { emailSendTest } from './email';
import { SendTestOutput, secretsOf } from './output';
import { smsSendTest } from './sms';

export interface SendTest {
  readonly medium: 'email' | 'sms';
  /** The canonical email address, or the number in E.164 without the `+`. */
  readonly to: string;
}

/** Runs the test; answers the exit code: 0 when the server or provider took the message, else 1. */
export async function runSendTest(config: Config, test: SendTest, out = new SendTestOutput(secretsOf(config))): Promise<number> {
  const accepted = test.medium === 'email' ? await emailSendTest(config, test.to, out) : await smsSendTest(config, test.to, out);
  return accepted ? 0 : 1;
}
