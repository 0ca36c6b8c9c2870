import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError, limitSettings, withoutTrailingSlash, type ConfigIssue, type Env, type Report, type Settings } from './common';
import { toDatabase } from './database';
import { ignoredEmailKeys, toEmail } from './email';
export { ignoredKeysNote } from './email';
import { toAccounts, toHomeserver, toPasswordCheckLimits } from './homeserver';
import { toIdentityServer, toIdentityServiceApi } from './identity';
import { toListeners } from './listeners';
import { toOutbox } from './outbox';
import { templatesDir, toBranding } from './presentation';
import { toSms } from './sms';
import { rawSchema, type RawInput } from './schema';
import type { RawConfig } from './raw-config';
import { concernsLeftOut, parseWhatIsValid } from './what-parsed';
import { toAddressPolicy } from './policy';

/*
 * The configuration: each section's schema (keys, checks, defaults and
 * descriptions) and its mapping to settings live in a file of their own,
 * composed in schema.ts; the settings types are read off the mappings, so a
 * key is written once in the schema and once where it is mapped. The input
 * type (raw-config.ts) and the reference are generated from the schema.
 */

export { ConfigError, type ConfigIssue, type RateLimitSettings } from './common';
export type { DatabaseSettings } from './database';
export type { ListenerSettings } from '../http/listener';
export { MIN_SHARED_SECRET_LENGTH } from './homeserver';
export type * from './raw-config';

/** Holds the generated {@link RawConfig} equal to the schema's input: a key added to either is a type error until `npm run docs:config`. */
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Every key at every depth, made required, so a key missing on either side is told apart (assignability alone lets optional keys differ). */
type KeysDeep<T> = T extends readonly (infer U)[] ? KeysDeep<U> : T extends object ? { [K in keyof T]-?: KeysDeep<NonNullable<T[K]>> } : never;
const RAW_CONFIG_MATCHES_SCHEMA: Equal<RawConfig, RawInput> & Equal<KeysDeep<RawConfig>, KeysDeep<RawInput>> = true;
void RAW_CONFIG_MATCHES_SCHEMA;

type Parsed = z.output<typeof rawSchema>;

function fromParsed(c: Parsed, env: Env, report: Report) {
  return {
    serverName: c.server_name,
    /** Always ends without a slash, so paths can be appended. */
    publicBaseurl: withoutTrailingSlash(c.public_baseurl),
    /** The path part of `publicBaseurl` (`/matrix`), or `''`: the module's routes are also served under it. */
    publicBasePath: withoutTrailingSlash(new URL(c.public_baseurl).pathname),
    listeners: toListeners(c.listeners),
    database: toDatabase(c.database, env, report),
    email: toEmail(c.email, c.server_name, env, report),
    sms: toSms(c.sms, env, report, c.email.app_name),
    nextLinkDomainWhitelist: c.next_link_domain_whitelist?.map((host) => host.toLowerCase()) ?? null,
    inhibit3pidErrors: c.request_token_inhibit_3pid_errors,
    /** Who may use which address: Synapse's keys and `address_policy`. */
    policy: toAddressPolicy({
      allowedLocal3pids: c.allowed_local_3pids,
      disableMsisdnRegistration: c.disable_msisdn_registration,
      enable3pidChanges: c.enable_3pid_changes,
      addressPolicy: c.address_policy,
    }),
    rateLimit: limitSettings(c.rc_3pid_validation),
    /** Each password checked with the homeserver (`/account/3pid/add`), per user and per client IP. */
    passwordCheckLimits: toPasswordCheckLimits(c.rc_password_check),
    trustedProxies: c.trusted_proxies,
    homeserver: toHomeserver(c.homeserver, env, report),
    /** Shown on the pages and in HTML emails. */
    branding: toBranding(c.branding),
    templatesDir: templatesDir(c, report),
    /** Keys accepted (for Synapse's sake) that do nothing here, logged at start. */
    ignoredKeys: ignoredEmailKeys(c.email),
    accounts: toAccounts(c.accounts),
    outbox: toOutbox(c.outbox, env, report),
    identityServer: toIdentityServer(c.identity_server, report),
    identityServiceApi: toIdentityServiceApi(c.identity_service_api, report),
  };
}

/** The validated, frozen configuration the module runs on. */
export type Config = Settings<ReturnType<typeof fromParsed>>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Validates a raw config object (as read from YAML) and returns the frozen
 * {@link Config}. Every secret may come from the environment instead of the
 * file, or from a file the environment names (as container secrets are
 * mounted): `MATRIX_HS_THREEPID_SMTP_PASS` or `MATRIX_HS_THREEPID_SMTP_PASS_FILE`,
 * and the same for `SHARED_SECRET`, `TWILIO_AUTH_TOKEN`, `SNS_SECRET_ACCESS_KEY`,
 * `VONAGE_API_SECRET`, `DATABASE_URL` and `OUTBOX_KEYS`.
 *
 * @throws ConfigError listing every problem, each naming its key, e.g. `email.smtp_port`.
 */
export function parseConfig(raw: RawConfig | null | undefined, env?: Env): Config;
// Typed for callers' editors, checked at run time all the same: YAML and JavaScript hosts pass anything.
export function parseConfig(raw: unknown, env: Env = {}): Config {
  const issues: ConfigIssue[] = [];
  const report: Report = (path, message) => issues.push({ path, message });
  const result = rawSchema.safeParse(raw ?? {});
  if (result.success) {
    const config = fromParsed(result.data, env, report);
    if (issues.length > 0) throw ConfigError.of(issues);
    return deepFreeze(config);
  }
  for (const issue of result.error.issues) {
    report(issue.path.join('.'), issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message);
  }
  // The checks across keys, on the rest of the file, in the same pass.
  const rest = parseWhatIsValid(rawSchema, raw ?? {}, result.error.issues);
  if (rest) {
    try {
      fromParsed(rest.data, env, (path, message) => {
        if (!concernsLeftOut(path, rest.leftOut)) report(path, message);
      });
    } catch {
      // A stand-in config that trips a mapping adds nothing; the schema's problems are told anyway.
    }
  }
  throw ConfigError.of(issues);
}

/**
 * Reads and validates a YAML config file. An empty file gives the defaults.
 */
export function loadConfigFile(file: string, env: Env = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    // Loaded with the first config file: a start on the defaults does without it.
    raw = (require('yaml') as typeof import('yaml')).parse(text);
  } catch (err) {
    throw new ConfigError('', `${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw as RawConfig, env);
}
