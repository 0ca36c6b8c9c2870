import { PermanentDeliveryError } from './errors';
import type { SmsMessage } from './sms-transport';

/**
 * Whether a provider's refusal will fail the same way again (`permanent`: the
 * message is given up on at once) or may pass later (`temporary`: retried
 * with the outbox's backoff).
 */
export type Verdict = 'permanent' | 'temporary';

export type SmsProvider = 'Twilio' | 'Amazon SNS' | 'Vonage';

interface Known {
  readonly verdict: Verdict;
  /** Said when the provider gives no reason of its own. */
  readonly reason: string;
}

const permanent = (reason: string): Known => ({ verdict: 'permanent', reason });
const temporary = (reason: string): Known => ({ verdict: 'temporary', reason });

/**
 * The one table of provider errors, by each provider's own code: Twilio's
 * `code` (REST errors 2xxxx, delivery errors 3xxxx), SNS's `<Code>`, and
 * Vonage's `messages[].status`.
 */
export const PROVIDER_ERRORS: Readonly<Record<SmsProvider, Readonly<Record<string, Known>>>> = {
  Twilio: {
    '20003': permanent('authentication failed'),
    '20404': permanent('account or resource not found'),
    '20429': temporary('too many requests'),
    '20500': temporary('internal error'),
    '20503': temporary('service unavailable'),
    '14107': temporary('rate limit exceeded'),
    '21211': permanent('invalid To number'),
    '21212': permanent('invalid From number'),
    '21408': permanent('sending to this region is not enabled'),
    '21602': permanent('message body required'),
    '21606': permanent('From number cannot send to this destination'),
    '21608': permanent('To number not verified on a trial account'),
    '21610': permanent('recipient unsubscribed'),
    '21611': temporary('too many messages queued for this sender'),
    '21612': permanent('destination cannot be reached from this sender'),
    '21614': permanent('To number is not a mobile number'),
    '21617': permanent('message body too long'),
    '30001': temporary('queue overflow'),
    '30002': permanent('account suspended'),
    '30003': temporary('destination handset unreachable'),
    '30004': permanent('message blocked'),
    '30005': permanent('unknown destination handset'),
    '30006': permanent('landline or unreachable carrier'),
    '30007': permanent('message filtered by the carrier'),
    '30008': temporary('unknown delivery error'),
    '30010': permanent('message price exceeds the maximum price'),
    '30022': temporary('sender rate limit exceeded'),
    '30023': temporary('daily message cap reached'),
  },
  'Amazon SNS': {
    AuthorizationError: permanent('not authorized to publish'),
    EndpointDisabled: permanent('endpoint disabled'),
    ExpiredToken: permanent('security token expired'),
    IncompleteSignature: permanent('incomplete signature'),
    InternalError: temporary('internal error'),
    InternalFailure: temporary('internal failure'),
    InvalidClientTokenId: permanent('unknown access key'),
    InvalidParameter: permanent('invalid parameter'),
    InvalidParameterValue: permanent('invalid parameter value'),
    InvalidSecurity: permanent('invalid security'),
    KMSThrottling: temporary('KMS throttling'),
    MissingAuthenticationToken: permanent('missing authentication'),
    NotFound: permanent('not found'),
    OptedOut: permanent('recipient opted out'),
    OptInRequired: permanent('account not subscribed to SNS'),
    RequestExpired: temporary('request expired'),
    ServiceUnavailable: temporary('service unavailable'),
    SignatureDoesNotMatch: permanent('signature does not match (wrong secret access key?)'),
    Throttled: temporary('throttled'),
    Throttling: temporary('throttled'),
    ThrottlingException: temporary('throttled'),
    ValidationError: permanent('validation error'),
  },
  Vonage: {
    '1': temporary('throttled'),
    '2': permanent('missing parameters'),
    '3': permanent('invalid parameters'),
    '4': permanent('invalid credentials'),
    '5': temporary('internal error'),
    '6': permanent('invalid message (unroutable number prefix?)'),
    '7': permanent('number barred'),
    '8': permanent('partner account barred'),
    '9': temporary('partner quota exceeded (out of credit)'),
    '10': temporary('too many existing binds'),
    '11': permanent('account not enabled for the HTTP API'),
    '12': permanent('message too long'),
    '14': permanent('invalid signature'),
    '15': permanent('invalid sender address'),
    '22': permanent('invalid network code'),
    '23': permanent('invalid callback URL'),
    '29': permanent('non-whitelisted destination'),
    '32': permanent('signature and API secret disallowed'),
    '33': permanent('number de-activated'),
  },
};

/** What a provider answered, as each sender reads it from its own format. */
export interface ProviderAnswer {
  readonly httpStatus: number;
  /** The provider's own error code, when the answer had one. */
  readonly code?: string;
  /** The provider's own words; they may quote the number, so they are redacted before use. */
  readonly reason?: string;
  /** Whose fault the provider says it is, as SNS's `<Type>`: `Sender` (the request's) or `Receiver` (the provider's). */
  readonly faultOf?: 'Sender' | 'Receiver';
}

/**
 * Whether an HTTP status is worth another try whatever the body says: 408
 * (a proxy gave up waiting for the request, which was never handled), 429
 * and 5xx.
 */
export function retriedHttpStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * A code not in the table: the HTTP status decides (408, 429 and 5xx are
 * worth another try, any other 4xx will fail the same way again); then
 * SNS's `Receiver` type; an unknown refusal in a 2xx answer is permanent.
 */
function fallbackVerdict(answer: ProviderAnswer): Verdict {
  if (retriedHttpStatus(answer.httpStatus)) return 'temporary';
  if (answer.faultOf === 'Receiver') return 'temporary';
  return 'permanent';
}

export function verdictOf(provider: SmsProvider, answer: ProviderAnswer): Verdict {
  const known = answer.code === undefined ? undefined : PROVIDER_ERRORS[provider][answer.code];
  return known?.verdict ?? fallbackVerdict(answer);
}

const MAX_REASON_CHARS = 200;

/**
 * The provider's words without the number or the text: providers quote the
 * number back ("The 'To' number +33… is not valid"); any run of six digits
 * or more (numbers, the code itself) goes too.
 */
export function redactReason(reason: string, message: SmsMessage): string {
  let out = reason;
  for (const secret of [message.text, message.to, message.to.replace(/^\+/, '')]) {
    if (secret) out = out.split(secret).join('[redacted]');
  }
  out = out.replace(/\+?\d(?:[\s.()-]{0,2}\d){5,}/g, '[redacted]');
  out = out.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').replace(/\s+/g, ' ').trim();
  return out.length > MAX_REASON_CHARS ? `${out.slice(0, MAX_REASON_CHARS)}…` : out;
}

/**
 * The error to throw for a provider's refusal: a {@link PermanentDeliveryError}
 * or a plain (retried) Error, whose message names the provider, the HTTP
 * status, the provider's code and reason, never the number or the text.
 */
export function providerFailure(provider: SmsProvider, answer: ProviderAnswer, message: SmsMessage): Error {
  const known = answer.code === undefined ? undefined : PROVIDER_ERRORS[provider][answer.code];
  const verdict = known?.verdict ?? fallbackVerdict(answer);
  const reason = (answer.reason && redactReason(answer.reason, message)) || known?.reason || 'no reason given';
  const code = answer.code === undefined ? '' : `code ${redactReason(answer.code, message)}, `;
  const description = `${provider} ${verdict === 'permanent' ? 'refused the message' : 'failed for now'} (HTTP ${answer.httpStatus}, ${code}${reason})`;
  return verdict === 'permanent' ? new PermanentDeliveryError(description) : new Error(description);
}
