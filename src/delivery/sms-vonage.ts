import type { Config } from '../config';
import { isGsm7 } from './gsm7';
import { providerFailure } from './sms-provider-errors';
import { readJsonAnswer, requestSignal, type SmsTransport } from './sms-transport';

interface VonageAnswer {
  messages?: Array<{ status?: unknown; 'error-text'?: unknown }>;
}

/**
 * Vonage's SMS API: `POST /sms/json` with `api_key`, `api_secret`, `from`,
 * `to` (digits, no `+`) and `text`, and `type=unicode` when the text is not
 * GSM-7 (else Vonage would send `?` for each character outside it). The
 * answer is 200 either way: each part of the message has its own `status`,
 * "0" for accepted, any other a refusal (see the error table).
 */
export function createVonageSmsTransport(settings: NonNullable<Config['sms']['vonage']>, fetcher: typeof fetch = fetch): SmsTransport {
  const url = `${settings.baseUrl}/sms/json`;
  return {
    async send(message, signal) {
      const form = new URLSearchParams({
        api_key: settings.apiKey,
        api_secret: settings.apiSecret,
        from: settings.from,
        to: message.to.replace(/^\+/, ''),
        text: message.text,
      });
      if (!isGsm7(message.text)) form.set('type', 'unicode');
      const response = await fetcher(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
        redirect: 'error',
        signal: requestSignal(signal),
      });
      const answer = (await readJsonAnswer(response)) as VonageAnswer | undefined;
      const parts = Array.isArray(answer?.messages) ? answer.messages : [];
      if (response.ok && parts.length > 0 && parts.every((part) => String(part?.status) === '0')) return;
      const refused = parts.find((part) => String(part?.status) !== '0');
      const reason = refused?.['error-text'];
      throw providerFailure(
        'Vonage',
        {
          httpStatus: response.status,
          code: refused?.status === undefined ? undefined : String(refused.status),
          reason: typeof reason === 'string' ? reason : response.ok ? 'answer without a message status' : undefined,
          // A 2xx without a status is no answer Vonage gives: whatever stood in its way may not be there next time.
          faultOf: response.ok && !refused ? 'Receiver' : undefined,
        },
        message,
      );
    },
  };
}
