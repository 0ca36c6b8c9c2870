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
      url: providerUrl(),
      headers: z.record(z.string()).default({}),
      body: z.record(z.unknown()).default({ to: '+{{to}}', text: '{{text}}' }),
    })
    .strict()
    .optional(),
);

/** `sms.twilio`: Twilio's Messages API. */
export const SMS_TWILIO = section(
  z
    .object({
      account_sid: z.string().min(1),
      auth_token: z.string().min(1).optional(),
      from: z.string().min(1).optional(),
      messaging_service_sid: z.string().min(1).optional(),
      base_url: providerUrl().default('https://api.twilio.com'),
    })
    .strict()
    .optional(),
);

/** `sms.sns`: Amazon SNS's Publish. */
export const SMS_SNS = section(
  z
    .object({
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as "eu-west-1"'),
      access_key_id: z.string().min(1),
      secret_access_key: z.string().min(1).optional(),
      session_token: z.string().min(1).optional(),
      // What SNS takes as a sender ID: 1 to 11 letters and digits, not digits alone.
      sender_id: z
        .string()
        .regex(/^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$/, 'must be 1 to 11 letters and digits, at least one a letter')
        .optional(),
      endpoint: providerUrl().optional(),
    })
    .strict()
    .optional(),
);

/** `sms.vonage`: Vonage's SMS API. */
export const SMS_VONAGE = section(
  z
    .object({
      api_key: z.string().min(1),
      api_secret: z.string().min(1).optional(),
      from: z.string().min(1),
      base_url: providerUrl().default('https://rest.nexmo.com'),
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
