import { z } from 'zod';
import { SECRET_ENV, secret, section, withoutTrailingSlash, type Env, type Report } from './common';

/**
 * A provider's URL, without a user name or password: fetch refuses such a
 * URL on every send, in an error that quotes it, password and all, into the
 * log and the outbox's recorded reason.
 */
const providerUrl = () =>
  z
    .string()
    .url()
    .refine((value) => {
      const url = new URL(value);
      return !url.username && !url.password;
    }, 'must not carry a user name or password (credentials have settings of their own, or go in headers)');

/** `sms.http`: a generic JSON webhook. */
export const SMS_HTTP = section(
  z
    .object({
      url: providerUrl().describe('The gateway\'s URL, without credentials.'),
      headers: z.record(z.string()).default({}).describe('Headers sent with each request, such as `Authorization`.'),
      body: z
        .record(z.unknown())
        .default({ to: '+{{to}}', text: '{{text}}' })
        .describe('A JSON template of the body: strings may use `{{to}}` (the number\'s digits, no +) and `{{text}}`.'),
    })
    .strict()
    .optional(),
);

/** `sms.twilio`: Twilio's Messages API. */
export const SMS_TWILIO = section(
  z
    .object({
      account_sid: z.string().min(1).describe('The account SID (AC…).'),
      auth_token: z.string().min(1).optional().describe('The auth token; required, here or in the environment.'),
      from: z.string().min(1).optional().describe('The number texts come from; exactly one of this and `messaging_service_sid`.'),
      messaging_service_sid: z.string().min(1).optional().describe('The messaging service (MG…) that sends; exactly one of this and `from`.'),
      base_url: providerUrl().default('https://api.twilio.com').describe('The API\'s base URL.'),
    })
    .strict()
    .optional(),
);

/** `sms.sns`: Amazon SNS's Publish. */
export const SMS_SNS = section(
  z
    .object({
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as "eu-west-1"').describe('The AWS region, such as eu-west-1.'),
      access_key_id: z.string().min(1).describe('The access key ID (AKIA…).'),
      secret_access_key: z.string().min(1).optional().describe('The secret access key; required, here or in the environment.'),
      session_token: z.string().min(1).optional().describe('The session token of temporary credentials.'),
      // What SNS takes as a sender ID: 1 to 11 letters and digits, not digits alone.
      sender_id: z
        .string()
        .regex(/^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$/, 'must be 1 to 11 letters and digits, at least one a letter')
        .optional()
        .describe('The sender ID shown where the country allows one: 1 to 11 letters and digits, at least one a letter.'),
      endpoint: providerUrl().optional().describe('The SNS endpoint. Unset: the region\'s, `https://sns.<region>.amazonaws.com`.'),
    })
    .strict()
    .optional(),
);

/** `sms.vonage`: Vonage's SMS API. */
export const SMS_VONAGE = section(
  z
    .object({
      api_key: z.string().min(1).describe('The API key.'),
      api_secret: z.string().min(1).optional().describe('The API secret; required, here or in the environment.'),
      from: z.string().min(1).describe('The sender: a number or an alphanumeric sender ID.'),
      base_url: providerUrl().default('https://rest.nexmo.com').describe('The API\'s base URL.'),
    })
    .strict()
    .optional(),
);

type SecretKey = 'sms.twilio.auth_token' | 'sms.sns.secret_access_key' | 'sms.vonage.api_secret';

/** A provider's secret, from the file or the environment; reported when it is in neither. */
function requiredSecret(key: SecretKey, fromFile: string | undefined, env: Env, report: Report): string {
  const value = secret(key, fromFile, env, report);
  if (!value) report(key, `is required (in the file, or env ${SECRET_ENV[key]} or ${SECRET_ENV[key]}_FILE)`);
  return value ?? '';
}

export function toTwilio(raw: z.output<typeof SMS_TWILIO>, env: Env, report: Report) {
  if (!raw) return undefined;
  if (!raw.from === !raw.messaging_service_sid) report('sms.twilio', 'needs exactly one of from and messaging_service_sid');
  return {
    accountSid: raw.account_sid,
    authToken: requiredSecret('sms.twilio.auth_token', raw.auth_token, env, report),
    from: raw.from,
    messagingServiceSid: raw.messaging_service_sid,
    baseUrl: withoutTrailingSlash(raw.base_url),
  };
}

export function toSns(raw: z.output<typeof SMS_SNS>, env: Env, report: Report) {
  if (!raw) return undefined;
  return {
    region: raw.region,
    accessKeyId: raw.access_key_id,
    secretAccessKey: requiredSecret('sms.sns.secret_access_key', raw.secret_access_key, env, report),
    sessionToken: raw.session_token,
    senderId: raw.sender_id,
    endpoint: withoutTrailingSlash(raw.endpoint ?? `https://sns.${raw.region}.amazonaws.com`),
  };
}

export function toVonage(raw: z.output<typeof SMS_VONAGE>, env: Env, report: Report) {
  if (!raw) return undefined;
  return {
    apiKey: raw.api_key,
    apiSecret: requiredSecret('sms.vonage.api_secret', raw.api_secret, env, report),
    from: raw.from,
    baseUrl: withoutTrailingSlash(raw.base_url),
  };
}
