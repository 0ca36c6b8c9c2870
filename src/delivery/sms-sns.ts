import aws4 from 'aws4';
import type { Config } from '../config';
import type { Clock } from '../sources';
import { providerFailure } from './sms-provider-errors';
import { readAnswer, requestSignal, type SmsMessage, type SmsTransport } from './sms-transport';

/** The form fields of SNS's Query API `Publish` for one text message, sent as a transactional SMS. */
export function snsPublishForm(message: SmsMessage, senderId: string | undefined): URLSearchParams {
  const form = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31', PhoneNumber: message.to, Message: message.text });
  const attributes: Array<[string, string]> = [['AWS.SNS.SMS.SMSType', 'Transactional']];
  if (senderId) attributes.push(['AWS.SNS.SMS.SenderID', senderId]);
  attributes.forEach(([name, value], index) => {
    const entry = `MessageAttributes.entry.${index + 1}`;
    form.set(`${entry}.Name`, name);
    form.set(`${entry}.Value.DataType`, 'String');
    form.set(`${entry}.Value.StringValue`, value);
  });
  return form;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (whole, name: string) => {
    if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? whole;
    const point = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return point <= 0x10ffff ? String.fromCodePoint(point) : whole;
  });
}

/** The text of the first `<name>` element: SNS's answers are small and flat, so no XML parser is needed. */
function element(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match ? decodeXml(match[1]).trim() : undefined;
}

/**
 * Amazon SNS's `Publish` over the Query API: a form-encoded POST to the
 * regional endpoint, signed with Signature Version 4 (by `aws4`, at the
 * injected clock's time), answered by `PublishResponse` with a `MessageId`,
 * or `ErrorResponse` with the error's `Type`, `Code` and `Message`.
 */
export function createSnsSmsTransport(settings: NonNullable<Config['sms']['sns']>, clock: Clock, fetcher: typeof fetch = fetch): SmsTransport {
  const endpoint = new URL(settings.endpoint);
  const credentials = { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, sessionToken: settings.sessionToken };
  return {
    async send(message, signal) {
      const body = snsPublishForm(message, settings.senderId).toString();
      const amzDate = new Date(clock.now()).toISOString().replace(/[:-]|\.\d{3}/g, '');
      const signed = aws4.sign(
        {
          service: 'sns',
          region: settings.region,
          method: 'POST',
          host: endpoint.host,
          path: endpoint.pathname,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', 'X-Amz-Date': amzDate },
          body,
        },
        credentials,
      );
      // fetch sets Host and Content-Length itself, to the same values that were signed.
      const headers = Object.fromEntries(
        Object.entries(signed.headers ?? {}).filter(([name]) => !['host', 'content-length'].includes(name.toLowerCase())).map(([name, value]) => [name, String(value)]),
      );
      const response = await fetcher(endpoint, { method: 'POST', headers, body, redirect: 'error', signal: requestSignal(signal) });
      const xml = await readAnswer(response);
      if (response.ok && element(xml, 'MessageId')) return;
      // A 2xx without a MessageId is no answer SNS gives: whatever stood in its way may not be there next time.
      const type = response.ok ? 'Receiver' : element(xml, 'Type');
      throw providerFailure(
        'Amazon SNS',
        {
          httpStatus: response.status,
          code: element(xml, 'Code'),
          reason: element(xml, 'Message') ?? (response.ok ? 'answer without a MessageId' : undefined),
          faultOf: type === 'Sender' || type === 'Receiver' ? type : undefined,
        },
        message,
      );
    },
  };
}
