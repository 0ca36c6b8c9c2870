import { z } from 'zod';
import { displayedName, duration, limitSettings, rateLimit, section, type Env, type Report, type Settings } from './common';
import { SMS_HTTP, SMS_SNS, SMS_TWILIO, SMS_VONAGE, toSns, toTwilio, toVonage } from './sms-providers';

/** The longest `sms.app_name`: with it, a 40-character host's one-time code line and the code, every shipped language's text fits one GSM-7 segment. */
export const SMS_APP_NAME_MAX_LENGTH = 24;

const countryCodes = z.array(z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')).default([]);

/** `sms`: the sender (log, a generic HTTP gateway, Twilio, Amazon SNS or Vonage), the countries served, and the abuse limits. */
export const SMS = section(
  z
    .object({
      enabled: z.boolean().default(true).describe('false: the msisdn requestToken endpoints answer M_THREEPID_MEDIUM_NOT_SUPPORTED.'),
      sender: z
        .enum(['log', 'http', 'twilio', 'sns', 'vonage'])
        .default('log')
        .describe('What sends the texts: log (development: each written to `dev_sms_dir`), http (a JSON webhook), twilio, sns (Amazon SNS) or vonage; each but log is set up in the key of its name.'),
      dev_sms_dir: z.string().min(1).default('data/sms').describe('Where the log sender writes each text.'),
      validation_token_lifetime: duration('15m').describe('How long a texted code works.'),
      max_token_attempts: z.number().int().min(1).max(100).default(5).describe('Wrong codes a session takes before it is dead (a new requestToken is needed).'),
      max_attempts: z.number().int().min(1).max(100).default(8).describe('Delivery attempts before a message is given up on. Refusals that will fail again (a barred number, bad credentials) end it at once.'),
      webotp_line: z.boolean().default(true).describe('End each text with the origin-bound one-time code line (`@host #code`), from which phones\' browsers and keyboards offer to fill the code in.'),
      app_name: displayedName(SMS_APP_NAME_MAX_LENGTH)
        .optional()
        .describe(`The name the texts give the server, at most ${SMS_APP_NAME_MAX_LENGTH} characters. Unset: \`email.app_name\`. A text that would not fit one segment (a longer name, or a language written outside GSM-7) is sent in its short form, the code alone.`),
      http: SMS_HTTP.describe('The http sender: a generic JSON webhook, POSTed with 15 s to answer. 2xx: sent; 408, 429, 5xx and timeouts: retried; other 4xx: failed.'),
      twilio: SMS_TWILIO.describe('The twilio sender: Twilio\'s Messages API.'),
      sns: SMS_SNS.describe('The sns sender: Amazon SNS\'s Publish, as transactional SMS.'),
      vonage: SMS_VONAGE.describe('The vonage sender: Vonage\'s SMS API.'),
      allowed_countries: countryCodes.describe('Only numbers of these countries (ISO 3166-1 alpha-2), by the number\'s own region: GB does not cover IM or GG; empty: all but the denied ones.'),
      denied_countries: countryCodes.describe('Numbers of these countries (ISO 3166-1 alpha-2) are refused.'),
      allow_non_geographic: z.boolean().default(false).describe('Allow numbers of no country (satellite +881, +882, premium-rate +979…), which the country lists cannot name.'),
      allow_premium_rate: z.boolean().default(false).describe('Allow premium-rate, shared-cost and personal numbers, a favourite of SMS pumping.'),
      rc_per_number: rateLimit(0.001, 3).describe('Rate limit of texts to one phone number, on top of `rc_3pid_validation` (token bucket).'),
      rc_per_prefix: rateLimit(0.01, 10).describe('Rate limit of texts to numbers sharing all but their last four digits (token bucket).'),
      rc_per_ip: rateLimit(0.003, 5).describe('Rate limit of texts requested from one client IP (token bucket).'),
      daily_limit: z.number().int().positive().default(1000).describe('Text messages sent in any 24 hours, all numbers together.'),
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
