import { z } from 'zod';
import { SECRET_ENV, duration, limitSettings, rateLimit, secret, section, withoutTrailingSlash, type Env, type Report, type Settings } from './common';

const countryCodes = z.array(z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')).default([]);

/** `sms`: the sender (log, a generic HTTP gateway or Twilio), the countries served, and the abuse limits. */
export const SMS = section(
  z
    .object({
      enabled: z.boolean().default(true),
      sender: z.enum(['log', 'http', 'twilio']).default('log'),
      dev_sms_dir: z.string().min(1).default('data/sms'),
      validation_token_lifetime: duration('15m'),
      max_token_attempts: z.number().int().min(1).max(100).default(5),
      max_attempts: z.number().int().min(1).max(100).default(8),
      webotp_line: z.boolean().default(true),
      http: section(
        z
          .object({
            url: z.string().url(),
            headers: z.record(z.string()).default({}),
            body: z.record(z.unknown()).default({ to: '+{{to}}', text: '{{text}}' }),
          })
          .strict()
          .optional(),
      ),
      twilio: section(
        z
          .object({
            account_sid: z.string().min(1),
            auth_token: z.string().min(1).optional(),
            from: z.string().min(1).optional(),
            messaging_service_sid: z.string().min(1).optional(),
            base_url: z.string().url().default('https://api.twilio.com'),
          })
          .strict()
          .optional(),
      ),
      allowed_countries: countryCodes,
      denied_countries: countryCodes,
      allow_non_geographic: z.boolean().default(false),
      allow_premium_rate: z.boolean().default(false),
      rc_per_number: rateLimit(0.001, 3),
      rc_per_prefix: rateLimit(0.01, 10),
      rc_per_ip: rateLimit(0.003, 5),
      daily_limit: z.number().int().positive().default(1000),
    })
    .strict()
    .default({}),
);

export function toSms(raw: z.output<typeof SMS>, env: Env, report: Report) {
  if (raw.sender === 'http' && !raw.http) report('sms.http', 'is required when sms.sender is "http"');
  if (raw.sender === 'twilio' && !raw.twilio) report('sms.twilio', 'is required when sms.sender is "twilio"');
  if (raw.twilio && !raw.twilio.from === !raw.twilio.messaging_service_sid) {
    report('sms.twilio', 'needs exactly one of from and messaging_service_sid');
  }
  const twilioToken = raw.twilio ? secret('sms.twilio.auth_token', raw.twilio.auth_token, env, report) : undefined;
  if (raw.twilio && !twilioToken) {
    report('sms.twilio.auth_token', `is required (in the file, or env ${SECRET_ENV['sms.twilio.auth_token']} or ${SECRET_ENV['sms.twilio.auth_token']}_FILE)`);
  }
  return {
    enabled: raw.enabled,
    sender: raw.sender,
    devSmsDir: raw.dev_sms_dir,
    validationTokenLifetimeMs: raw.validation_token_lifetime,
    /** Wrong codes a session takes before it is dead. */
    maxTokenAttempts: raw.max_token_attempts,
    /** Delivery attempts before a message is given up on. */
    maxAttempts: raw.max_attempts,
    /** End each text with `@host #code`, the line phones and browsers fill the code in from. */
    webotpLine: raw.webotp_line,
    http: raw.http,
    twilio: raw.twilio && {
      accountSid: raw.twilio.account_sid,
      authToken: twilioToken ?? '',
      from: raw.twilio.from,
      messagingServiceSid: raw.twilio.messaging_service_sid,
      baseUrl: withoutTrailingSlash(raw.twilio.base_url),
    },
    /** Upper-case ISO 3166-1 alpha-2; empty: all. */
    allowedCountries: raw.allowed_countries.map((code) => code.toUpperCase()),
    deniedCountries: raw.denied_countries.map((code) => code.toUpperCase()),
    allowNonGeographic: raw.allow_non_geographic,
    allowPremiumRate: raw.allow_premium_rate,
    perNumber: limitSettings(raw.rc_per_number),
    perPrefix: limitSettings(raw.rc_per_prefix),
    perIp: limitSettings(raw.rc_per_ip),
    /** Codes sent in any 24 hours, all numbers together. */
    dailyLimit: raw.daily_limit,
  };
}

export type SmsSettings = Settings<ReturnType<typeof toSms>>;
