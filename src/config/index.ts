import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import proxyaddr from 'proxy-addr';
import { ConfigError, limitSettings, rateLimit, withoutTrailingSlash, type ConfigIssue, type Env, type Report, type Settings } from './common';
import { DATABASE, toDatabase } from './database';
import { EMAIL, ignoredEmailKeys, toEmail } from './email';
export { ignoredKeysNote } from './email';
import { ACCOUNTS, HOMESERVER, RC_PASSWORD_CHECK, toAccounts, toHomeserver, toPasswordCheckLimits } from './homeserver';
import { IDENTITY_SERVER, IDENTITY_SERVICE_API, toIdentityServer, toIdentityServiceApi } from './identity';
import { LISTENERS, toListeners } from './listeners';
import { OUTBOX, toOutbox } from './outbox';
import { BRANDING, TEMPLATES, templatesDir, toBranding } from './presentation';
import { SMS, toSms } from './sms';
import { concernsLeftOut, parseWhatIsValid } from './what-parsed';
import { ADDRESS_POLICY, ALLOWED_LOCAL_3PIDS, DISABLE_MSISDN_REGISTRATION, ENABLE_3PID_CHANGES, toAddressPolicy } from './policy';

/*
 * The configuration: each section's schema (keys, checks and defaults) and
 * its mapping to settings live in a file of their own; the types are read
 * off the mappings, so a key is written once in the schema and once where
 * it is mapped.
 */

export { ConfigError, type ConfigIssue, type RateLimitSettings } from './common';
export type { DatabaseSettings } from './database';
export type { ListenerSettings } from '../http/listener';
export { MIN_SHARED_SECRET_LENGTH } from './homeserver';

const hostPattern = /^[A-Za-z0-9.-]+$/;

/** An address, a CIDR range, or one of proxy-addr's names (loopback, linklocal, uniquelocal). */
function isTrustedProxyEntry(value: string): boolean {
  try {
    proxyaddr.compile([value]);
    return true;
  } catch {
    return false;
  }
}

const rawSchema = z
  .object({
    server_name: z.string().min(1).default('localhost'),
    public_baseurl: z.string().url().default('http://localhost:8090/'),
    listeners: LISTENERS,
    database: DATABASE,
    email: EMAIL,
    templates: TEMPLATES,
    sms: SMS,
    next_link_domain_whitelist: z.array(z.string().regex(hostPattern, 'must be a host name')).nullable().default(null),
    request_token_inhibit_3pid_errors: z.boolean().default(false),
    allowed_local_3pids: ALLOWED_LOCAL_3PIDS,
    disable_msisdn_registration: DISABLE_MSISDN_REGISTRATION,
    enable_3pid_changes: ENABLE_3PID_CHANGES,
    address_policy: ADDRESS_POLICY,
    rc_3pid_validation: rateLimit(0.003, 5),
    rc_password_check: RC_PASSWORD_CHECK,
    trusted_proxies: z
      .array(
        z
          .string()
          .min(1)
          .refine(isTrustedProxyEntry, 'must be an IP address, a CIDR range, or loopback, linklocal or uniquelocal'),
      )
      .default([]),
    homeserver: HOMESERVER,
    templates_dir: z.string().min(1).optional(),
    branding: BRANDING,
    outbox: OUTBOX,
    accounts: ACCOUNTS,
    identity_server: IDENTITY_SERVER,
    identity_service_api: IDENTITY_SERVICE_API,
  })
  .strict();

type RawInput = z.input<typeof rawSchema>;

/**
 * What an operator writes in the YAML file, or a host passes to
 * {@link parseConfig}: every key optional, each explained in `config.sample.yaml`.
 * Spelled out key by key so the published types carry the documentation
 * (zod's inferred types would not); the check below keeps it equal to the schema.
 */
export interface RawConfig {
  /** The homeserver's name, used in emails and the default sender address. Default `localhost`. */
  server_name?: RawInput['server_name'];
  /** The URL clients and email links reach this module at; `submit_url` and the emailed links are built on it. */
  public_baseurl?: RawInput['public_baseurl'];
  /** The sidecar's client and internal listeners (address, port, connection limits, timeouts). */
  listeners?: RawInput['listeners'];
  /** SQLite (`path`, default `data/threepid.sqlite`) or PostgreSQL (`engine: postgres`, `url`). */
  database?: RawInput['database'];
  /** SMTP, the sender, token lifetime; Synapse's `email:` keys are accepted. */
  email?: RawInput['email'];
  /** Synapse's name for `templates_dir` and `branding`. */
  templates?: RawInput['templates'];
  /** Phone numbers: the text-message sender (`twilio`, `sns`, `vonage`, `http`…) and its limits. */
  sms?: RawInput['sms'];
  /** Only these hosts may be used in a client's `next_link` (null: any http(s) URL). */
  next_link_domain_whitelist?: RawInput['next_link_domain_whitelist'];
  /** Answer requestToken as if all were well when the address is in use or unknown, so nobody learns which addresses have accounts. */
  request_token_inhibit_3pid_errors?: RawInput['request_token_inhibit_3pid_errors'];
  /** Synapse's `allowed_local_3pids`: `{medium, pattern}` entries; once there are any, an address no entry matches is refused. */
  allowed_local_3pids?: RawInput['allowed_local_3pids'];
  /** True: `register/msisdn/requestToken` answers `M_THREEPID_MEDIUM_NOT_SUPPORTED`. */
  disable_msisdn_registration?: RawInput['disable_msisdn_registration'];
  /** False: adding and deleting 3PIDs is refused with `M_FORBIDDEN`, as in Synapse. */
  enable_3pid_changes?: RawInput['enable_3pid_changes'];
  /** The email rules Synapse lacks: allowed and banned domains and addresses, disposable domains, per purpose. */
  address_policy?: RawInput['address_policy'];
  /** Rate limit of requestToken, per client IP and per address (token bucket). */
  rc_3pid_validation?: RawInput['rc_3pid_validation'];
  /** Password checks of `/account/3pid/add`, per user and per client IP (token buckets). */
  rc_password_check?: RawInput['rc_password_check'];
  /** Proxies whose `X-Forwarded-For` is believed: addresses, CIDR ranges, `loopback`, `linklocal`, `uniquelocal`. */
  trusted_proxies?: RawInput['trusted_proxies'];
  /** The homeserver: its URL, and the shared secret of the sidecar's internal API. */
  homeserver?: RawInput['homeserver'];
  /** A folder of templates overriding the shipped ones, per language. */
  templates_dir?: RawInput['templates_dir'];
  /** The operator's brand on pages and HTML emails: name, logo, colour, support link. */
  branding?: RawInput['branding'];
  /** The outbox worker, and the keys that seal its payloads (`keys`, `key_file`). */
  outbox?: RawInput['outbox'];
  /** What the account endpoints allow. */
  accounts?: RawInput['accounts'];
  /** Identity-server proxy mode (MSC2140): a requestToken naming an `id_server` is forwarded there. */
  identity_server?: RawInput['identity_server'];
  /** The identity-service v1 validation API, for homeservers that delegate 3PID validation. */
  identity_service_api?: RawInput['identity_service_api'];
}

/** Holds {@link RawConfig} equal to the schema's input: a key added to either is a type error until documented. */
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const RAW_CONFIG_MATCHES_SCHEMA: Equal<RawConfig, RawInput> & Equal<keyof RawConfig, keyof RawInput> = true;
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
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError('', `${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw as RawConfig, env);
}
