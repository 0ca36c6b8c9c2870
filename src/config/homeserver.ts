import { z } from 'zod';
import { duration, limitSettings, rateLimit, secret, section, withoutTrailingSlash, type Env, type Report, type Settings } from './common';

/** Shortest `homeserver.shared_secret` accepted: 32 characters. */
export const MIN_SHARED_SECRET_LENGTH = 32;

/** `homeserver`: how the homeserver and the module trust each other (the internal API's JWTs), and where it is. */
export const HOMESERVER = section(
  z
    .object({
      shared_secret: z.string().optional().describe('The secret the homeserver signs the internal API\'s HS256 JWTs with; at least 32 characters. Unset: the sidecar generates one and keeps it in `internal-api-secret` beside the database.'),
      base_url: z.string().url().optional().describe('The homeserver\'s client API: `/versions` is fetched from it and the identity-server flag merged in. Unset: the sidecar answers its own list.'),
      jwt_audience: z.string().min(1).optional().describe('When set, the internal API\'s tokens must carry this `aud`.'),
      jwt_max_lifetime: duration('5m').describe('Tokens whose `exp` is further ahead than this are refused, so a leaked token soon stops working.'),
      forward_client_ip: z.boolean().default(true).describe('The password check and whoami tell the homeserver the client\'s IP in X-Forwarded-For, so it can limit each client\'s logins apart.'),
    })
    .strict()
    .default({}),
);

export function toHomeserver(raw: z.output<typeof HOMESERVER>, env: Env, report: Report) {
  const sharedSecret = secret('homeserver.shared_secret', raw.shared_secret, env, report);
  if (sharedSecret !== undefined && sharedSecret.length < MIN_SHARED_SECRET_LENGTH) {
    report('homeserver.shared_secret', `must be at least ${MIN_SHARED_SECRET_LENGTH} characters long`);
  }
  return {
    sharedSecret,
    baseUrl: raw.base_url === undefined ? undefined : withoutTrailingSlash(raw.base_url),
    jwtAudience: raw.jwt_audience,
    /** Internal JWTs whose `exp` is further ahead than this are refused. */
    jwtMaxLifetimeMs: raw.jwt_max_lifetime,
    /** The password check and whoami carry the client's IP in `X-Forwarded-For`. */
    forwardClientIp: raw.forward_client_ip,
  };
}

/** `accounts`: the account 3PID endpoints. */
export const ACCOUNTS = section(
  z
    .object({
      require_password: z.boolean().default(true).describe('`POST /account/3pid/add` asks for the user\'s password again (UIA m.login.password, checked by logging in to the homeserver and out again).'),
    })
    .strict()
    .default({}),
);

export function toAccounts(raw: z.output<typeof ACCOUNTS>) {
  return {
    /** `/account/3pid/add` asks for the user's password (UIA `m.login.password`). */
    requirePassword: raw.require_password,
  };
}

/** `rc_password_check`: token buckets spent by each password the module checks, per user and per client IP. */
export const RC_PASSWORD_CHECK = section(
  z
    .object({
      per_user: rateLimit(0.003, 5).describe('The bucket of each user.'),
      per_ip: rateLimit(0.003, 5).describe('The bucket of each client IP.'),
    })
    .strict()
    .default({}),
);

export function toPasswordCheckLimits(raw: z.output<typeof RC_PASSWORD_CHECK>) {
  return { perUser: limitSettings(raw.per_user), perIp: limitSettings(raw.per_ip) };
}

export type HomeserverSettings = Settings<ReturnType<typeof toHomeserver>>;
