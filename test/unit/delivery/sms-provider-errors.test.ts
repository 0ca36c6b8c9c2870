import { PermanentDeliveryError } from '../../../src/delivery/errors';
import { providerFailure, redactReason, verdictOf, type SmsProvider, type Verdict } from '../../../src/delivery/sms-provider-errors';

const message = { to: '+33612345678', text: '482913 is your Example Chat verification code.' };

describe('the table of provider errors', () => {
  it.each<[SmsProvider, number, string, Verdict]>([
    ['Twilio', 400, '21211', 'permanent'],
    ['Twilio', 400, '21610', 'permanent'],
    ['Twilio', 400, '21408', 'permanent'],
    ['Twilio', 401, '20003', 'permanent'],
    ['Twilio', 429, '20429', 'temporary'],
    ['Twilio', 400, '30003', 'temporary'],
    ['Twilio', 400, '30006', 'permanent'],
    ['Twilio', 400, '30007', 'permanent'],
    ['Amazon SNS', 400, 'InvalidParameter', 'permanent'],
    ['Amazon SNS', 403, 'SignatureDoesNotMatch', 'permanent'],
    ['Amazon SNS', 403, 'InvalidClientTokenId', 'permanent'],
    ['Amazon SNS', 400, 'Throttling', 'temporary'],
    ['Amazon SNS', 400, 'KMSThrottling', 'temporary'],
    ['Amazon SNS', 500, 'InternalError', 'temporary'],
    ['Vonage', 200, '1', 'temporary'],
    ['Vonage', 200, '2', 'permanent'],
    ['Vonage', 200, '3', 'permanent'],
    ['Vonage', 200, '4', 'permanent'],
    ['Vonage', 200, '5', 'temporary'],
    ['Vonage', 200, '6', 'permanent'],
    ['Vonage', 200, '7', 'permanent'],
    ['Vonage', 200, '8', 'permanent'],
    ['Vonage', 200, '15', 'permanent'],
    ['Vonage', 200, '29', 'permanent'],
  ])('%s HTTP %i, code %s: %s', (provider, httpStatus, code, verdict) => {
    expect(verdictOf(provider, { httpStatus, code })).toBe(verdict);
    const error = providerFailure(provider, { httpStatus, code }, message);
    expect(error instanceof PermanentDeliveryError).toBe(verdict === 'permanent');
    expect(error.message).toContain(`code ${code}`);
  });

  it.each<[string, SmsProvider, Parameters<typeof verdictOf>[1], Verdict]>([
    ['an unknown code in a 429', 'Twilio', { httpStatus: 429, code: '99999' }, 'temporary'],
    ['an unknown code in a 502', 'Twilio', { httpStatus: 502, code: '99999' }, 'temporary'],
    ['an unknown code in a 400', 'Twilio', { httpStatus: 400, code: '99999' }, 'permanent'],
    ['no code in a 503 from a proxy', 'Amazon SNS', { httpStatus: 503 }, 'temporary'],
    ["an unknown code of SNS's own fault", 'Amazon SNS', { httpStatus: 400, code: 'SomethingNew', faultOf: 'Receiver' }, 'temporary'],
    ["an unknown code of the sender's fault", 'Amazon SNS', { httpStatus: 400, code: 'SomethingNew', faultOf: 'Sender' }, 'permanent'],
    ['an unknown status in a 200', 'Vonage', { httpStatus: 200, code: '99' }, 'permanent'],
  ])('falls back on the HTTP status for %s', (_what, provider, answer, verdict) => {
    expect(verdictOf(provider, answer)).toBe(verdict);
  });

  it("carries the provider's reason without the number, in any spelling, or the text", () => {
    for (const reason of [
      "The 'To' number +33612345678 is not a valid phone number.",
      'Invalid parameter: PhoneNumber Reason: 33612345678 is not valid to publish to',
      'Number +33 6 12 34 56 78 barred',
      'Refused: 482913 is your Example Chat verification code.',
      'code 482913 refused',
    ]) {
      const error = providerFailure('Twilio', { httpStatus: 400, code: '21211', reason }, message);
      expect(error.message).toContain('[redacted]');
      expect(error.message).not.toMatch(/612|482913|verification code/);
    }
    expect(redactReason('Bad\nCredentials\u0000 ', message)).toBe('Bad Credentials');
    expect(redactReason('x'.repeat(500), message)).toHaveLength(201);
  });

  it("says the table's own reason when the provider gives none", () => {
    expect(providerFailure('Vonage', { httpStatus: 200, code: '7' }, message).message).toBe('Vonage refused the message (HTTP 200, code 7, number barred)');
    expect(providerFailure('Amazon SNS', { httpStatus: 400, code: 'Throttling' }, message).message).toBe('Amazon SNS failed for now (HTTP 400, code Throttling, throttled)');
  });
});
