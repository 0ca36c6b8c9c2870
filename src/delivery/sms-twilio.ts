import type { Config } from '../config';
import { providerFailure } from './sms-provider-errors';
import { readJsonAnswer, requestSignal, type SmsTransport } from './sms-transport';

interface TwilioAnswer {
  code?: unknown;
  message?: unknown;
  error_code?: unknown;
  error_message?: unknown;
}

const text = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : undefined);

/**
 * Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * form-encoded `To`, `Body` and `From` or `MessagingServiceSid`, HTTP Basic
 * auth with the account SID and auth token; `201` with the message resource
 * on success (whose `error_code` is set if it failed at once), `{code,
 * message, status}` with a 4xx or 5xx on refusal.
 */
export function createTwilioSmsTransport(settings: NonNullable<Config['sms']['twilio']>, fetcher: typeof fetch = fetch): SmsTransport {
  const url = `${settings.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${settings.accountSid}:${settings.authToken}`).toString('base64')}`;
  return {
    async send(message, signal) {
      const form = new URLSearchParams({ To: message.to, Body: message.text });
      if (settings.messagingServiceSid) form.set('MessagingServiceSid', settings.messagingServiceSid);
      else form.set('From', settings.from as string);
      const response = await fetcher(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
        redirect: 'error',
        signal: requestSignal(signal),
      });
      const answer = ((await readJsonAnswer(response)) ?? {}) as TwilioAnswer;
      if (response.ok) {
        const failedAtOnce = text(answer.error_code);
        if (!failedAtOnce) return;
        throw providerFailure('Twilio', { httpStatus: response.status, code: failedAtOnce, reason: text(answer.error_message) }, message);
      }
      throw providerFailure('Twilio', { httpStatus: response.status, code: text(answer.code), reason: text(answer.message) }, message);
    },
  };
}
