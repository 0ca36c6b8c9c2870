/**
 * Amazon SNS's Publish and Vonage's SMS API as local stand-ins, checking
 * each request as the real APIs do and answering in their formats; the
 * gateway in sms-gateway.ts routes to them.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isGsm7 } from '../../src/delivery/gsm7';
import type { GatewayMessage } from './sms-gateway';
import { sigV4Refusal, type SigV4Key } from './sigv4-check';

/** An HTTP answer. */
export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** A request the stand-in took: what it delivers, and how it answers a refusal the test asked for instead. */
export interface Accepted {
  readonly message: GatewayMessage;
  readonly ok: Reply;
  fail(status: number, code?: string): Reply;
}

export const SNS_REGION = 'eu-west-1';
export const SNS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
export const SNS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
/** Temporary credentials: SNS takes them only with their session token. */
export const SNS_TEMPORARY_KEY_ID = 'ASIAIOSFODNN7EXAMPLE';
export const SNS_TEMPORARY_SECRET = 'temporary/secret+key';
export const SNS_SESSION_TOKEN = 'FwoGZXIvYXdzEXAMPLE//token=';
const SNS_KEYS: Record<string, SigV4Key> = {
  [SNS_ACCESS_KEY_ID]: { secretAccessKey: SNS_SECRET_ACCESS_KEY },
  [SNS_TEMPORARY_KEY_ID]: { secretAccessKey: SNS_TEMPORARY_SECRET, sessionToken: SNS_SESSION_TOKEN },
};

export const VONAGE_API_KEY = 'a1b2c3d4';
export const VONAGE_API_SECRET = 'Vonage-Secret-1';

const xmlEscape = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const xml = (status: number, body: string): Reply => ({ status, contentType: 'text/xml', body: `<?xml version="1.0"?>\n${body}` });
const json = (status: number, body: unknown): Reply => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

function snsError(status: number, code: string, message: string): Reply {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return xml(
    status,
    `<ErrorResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

/** SNS's own words for the codes the tests use; like SNS, they quote the number. */
function snsWords(code: string, phone: string): string {
  if (code === 'InvalidParameter') return `Invalid parameter: PhoneNumber Reason: ${phone} is not valid to publish to`;
  if (code === 'Throttling') return 'Rate exceeded';
  if (code === 'AuthorizationError') return 'User is not authorized to perform: SNS:Publish';
  return 'We encountered an internal error. Please try again.';
}

/** `POST /` with `Action=Publish`, SigV4-signed for the `sns` service. */
export function snsPublish(req: IncomingMessage, body: Buffer, now: () => number): Reply | Accepted {
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return snsError(400, 'InvalidAction', 'Content-Type must be application/x-www-form-urlencoded');
  }
  const refusal = sigV4Refusal(req, body, { keys: SNS_KEYS, region: SNS_REGION, service: 'sns', now });
  if (refusal) return snsError(403, refusal.code, refusal.message);
  const form = new URLSearchParams(body.toString('utf8'));
  if (form.get('Action') !== 'Publish') return snsError(400, 'InvalidAction', `Could not find operation ${form.get('Action')}`);
  if (form.get('Version') !== '2010-03-31') return snsError(400, 'InvalidParameterValue', 'Unsupported Version');
  const phone = form.get('PhoneNumber') ?? '';
  if (!/^\+[1-9]\d{7,14}$/.test(phone)) return snsError(400, 'InvalidParameter', snsWords('InvalidParameter', phone));
  const text = form.get('Message');
  if (!text) return snsError(400, 'InvalidParameter', 'Invalid parameter: Empty message');
  const attributes: Record<string, string> = {};
  for (let n = 1; form.has(`MessageAttributes.entry.${n}.Name`); n++) {
    const entry = `MessageAttributes.entry.${n}`;
    const name = form.get(`${entry}.Name`)!;
    const value = form.get(`${entry}.Value.StringValue`);
    if (form.get(`${entry}.Value.DataType`) !== 'String' || !value) {
      return snsError(400, 'ParameterValueInvalid', `The message attribute '${name}' must contain a non-empty String value.`);
    }
    attributes[name] = value;
  }
  const smsType = attributes['AWS.SNS.SMS.SMSType'];
  if (smsType !== undefined && !['Promotional', 'Transactional'].includes(smsType)) {
    return snsError(400, 'ParameterValueInvalid', `Value ${smsType} for AWS.SNS.SMS.SMSType is not valid`);
  }
  const senderId = attributes['AWS.SNS.SMS.SenderID'];
  if (senderId !== undefined && !/^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$/.test(senderId)) {
    return snsError(400, 'ParameterValueInvalid', 'Invalid AWS.SNS.SMS.SenderID');
  }
  const messageId = randomUUID();
  return {
    message: { via: 'sns', to: phone, text, attributes, headers: req.headers, raw: Object.fromEntries(form) },
    ok: xml(
      200,
      `<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
    ),
    fail: (status, code = status >= 500 ? 'InternalError' : 'InvalidParameter') => snsError(status, code, snsWords(code, phone)),
  };
}

function vonageRefusal(status: string, errorText: string): Reply {
  return json(200, { 'message-count': '1', messages: [{ status, 'error-text': errorText }] });
}

const VONAGE_WORDS: Record<string, string> = {
  '1': 'Throughput Rate Exceeded - please wait [ 1000 ] and retry',
  '4': 'Bad Credentials',
  '5': 'Internal Error',
  '7': 'Number barred.',
};

/** `POST /sms/json`: form-encoded or JSON parameters; 200 with a status per message part. */
export function vonageSms(req: IncomingMessage, body: Buffer): Reply | Accepted {
  const raw = body.toString('utf8');
  const params: Record<string, string | undefined> = (req.headers['content-type'] ?? '').startsWith('application/json')
    ? (JSON.parse(raw) as Record<string, string>)
    : Object.fromEntries(new URLSearchParams(raw));
  for (const name of ['api_key', 'api_secret', 'from', 'to', 'text']) {
    if (!params[name]) return vonageRefusal('2', `Missing ${name} param`);
  }
  if (params.api_key !== VONAGE_API_KEY || params.api_secret !== VONAGE_API_SECRET) return vonageRefusal('4', VONAGE_WORDS['4']);
  const to = params.to!;
  if (!/^[1-9]\d{7,14}$/.test(to)) return vonageRefusal('3', 'Invalid to param');
  if (params.type !== undefined && !['text', 'unicode'].includes(params.type)) return vonageRefusal('3', 'Invalid type param');
  // Without type=unicode, what GSM-7 cannot say reaches the handset as '?'.
  const text = params.type === 'unicode' ? params.text! : [...params.text!].map((c) => (isGsm7(c) ? c : '?')).join('');
  return {
    message: { via: 'vonage', to: `+${to}`, text, from: params.from, type: params.type, headers: req.headers, raw: params },
    ok: json(200, {
      'message-count': '1',
      messages: [{ to, 'message-id': randomUUID(), status: '0', 'remaining-balance': '15.53590000', 'message-price': '0.03330000', network: '20810' }],
    }),
    fail: (status, code) => (code ? vonageRefusal(code, VONAGE_WORDS[code] ?? 'Error') : { status, contentType: 'text/html', body: '<html>Service Unavailable</html>' }),
  };
}
