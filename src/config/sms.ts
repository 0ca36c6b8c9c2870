import { z } from 'zod';
import { duration, limitSettings, rateLimit, section, type Env, type Report, type Settings } from './common';
import { SMS_HTTP, SMS_SNS, SMS_TWILIO, SMS_VONAGE, toSns, toTwilio, toVonage } from './sms-providers';

const countryCodes = z.array(z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')).default([]);

/** `sms`: the sender (log, a generic HTTP gateway, Twilio, Amazon SNS or Vonage), the countries served, and the abuse limits. */
export const SMS = section(
  z
    .object({
      enabled: z.boolean().default(true),
      sender: z.enum(['log', 'http', 'twilio', 'sns', 'vonage']).default('log'),
      dev_sms_dir: z.string().min(1).default('data/sms'),
      validation_token_lifetime: duration('15m'),
      max_token_attempts: z.number().int().min(1).max(100).default(5),
      max_attempts: z.number().int().min(1).max(100).default(8),
      webotp_line: z.boolean().default(true),
      app_name: z.string().min(1).optional(),
      http: SMS_HTTP,
      twilio: SMS_TWILIO,
      sns: SMS_SNS,
      vonage: SMS_VONAGE,
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

/** `emailAppName`: `email.app_name`, the name texts carry unless `sms.app_name` gives another. */
export function toSms(raw: z.output<typeof SMS>, env: Env, report: Report, emailAppName: string) {
  for (const provider of ['http', 'twilio', 'sns', 'vonage'] as const) {
    if (raw.sender === provider && !raw[provider]) report(`sms.${provider}`, `is required when sms.sender is "${provider}"`);
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
    /** The name the texts give the server. */
    appName: raw.app_name ?? emailAppName,
    http: raw.http,
    twilio: toTwilio(raw.twilio, env, report),
    sns: toSns(raw.sns, env, report),
    vonage: toVonage(raw.vonage, env, report),
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
