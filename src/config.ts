import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';
import { parseDuration } from './duration';
import { isBareHost } from './hosts';
import { LANGUAGE_TAG } from './delivery/languages';
import { parseKeyLine } from './keyring';
import type { ListenerSettings } from './http/listener';

function isValidCidr(value: string): boolean {
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

/** One problem with a config: the key (dotted path, empty for the whole file) and what is wrong. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

const describeIssue = (issue: ConfigIssue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message);

/**
 * Raised for a config that cannot be used. `issues` holds every problem
 * found, each naming its key; `path` is the first one's key.
 */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(path: string, message: string, more: readonly ConfigIssue[] = []) {
    const issues = [{ path, message }, ...more];
    super(
      issues.length === 1
        ? `config: ${describeIssue(issues[0])}`
        : `config: ${issues.length} problems:\n${issues.map((issue) => `  ${describeIssue(issue)}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }

  get path(): string {
    return this.issues[0].path;
  }

  /** One error for all of `issues` (at least one). */
  static of(issues: readonly ConfigIssue[]): ConfigError {
    return new ConfigError(issues[0].path, issues[0].message, issues.slice(1));
  }
}

/** Shortest `homeserver.shared_secret` accepted: 32 characters. */
export const MIN_SHARED_SECRET_LENGTH = 32;

const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as "1h", "15m", "30s" or a number of milliseconds' });
        return z.NEVER;
      }
      return ms;
    });

/** A YAML section whose keys are all commented out parses as null: treat it as absent. */
const section = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((value) => (value === null ? undefined : value), schema);

const listener = (port: number, limits: { maxConnections: number; perIp: number }) =>
  section(
    z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(port),
        max_connections: z.number().int().min(0).default(limits.maxConnections),
        max_connections_per_ip: z.number().int().min(0).default(limits.perIp),
        header_timeout: duration('10s'),
        request_timeout: duration('30s'),
        keep_alive_timeout: duration('5s'),
      })
      .strict()
      .default({})
      .superRefine((value, ctx) => {
        if (value.header_timeout < 1 || value.header_timeout > value.request_timeout) {
          ctx.addIssue({ code: 'custom', path: ['header_timeout'], message: 'must be above 0 and at most request_timeout' });
        }
      }),
  );

const rateLimit = (perSecond: number, burstCount: number) =>
  section(
    z
      .object({
        per_second: z.number().positive().default(perSecond),
        burst_count: z.number().int().positive().default(burstCount),
      })
      .strict()
      .default({}),
  );

const hostPattern = /^[A-Za-z0-9.-]+$/;

/** An https URL without credentials, or a path on the public server (`/static/logo.png`, not `//host/…`). */
function isLogoUrl(value: string): boolean {
  if (/^\/(?!\/)[^\s"'<>\\]*$/.test(value)) return true;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '' && !/[\s"'<>]/.test(value);
  } catch {
    return false;
  }
}

function isSupportUrl(value: string): boolean {
  try {
    return ['https:', 'http:', 'mailto:'].includes(new URL(value).protocol) && !/[\s"'<>]/.test(value);
  } catch {
    return false;
  }
}

/** Synapse `email:` keys about notifications of missed messages, which this module does not send. */
const SYNAPSE_NOTIFICATION_KEYS = [
  'enable_notifs',
  'notif_for_new_users',
  'notif_delay_before_mail',
  'client_base_url',
  'riot_base_url',
  'invite_client_location',
  'notif_template_html',
  'notif_template_text',
  'expiry_template_html',
  'expiry_template_text',
] as const;

/** Synapse `email.subjects` keys of notification emails (only email_validation and password_reset apply here). */
const SYNAPSE_NOTIFICATION_SUBJECTS = [
  'message_from_person_in_room',
  'message_from_person',
  'messages_from_person',
  'messages_in_room',
  'messages_from_person_and_others',
  'invite_from_person',
  'invite_from_person_to_room',
  'invite_from_person_to_space',
  'email_already_in_use',
] as const;

const optionalKeys = <K extends string, T extends z.ZodTypeAny>(keys: readonly K[], schema: T) =>
  Object.fromEntries(keys.map((key) => [key, schema.optional()])) as Record<K, z.ZodOptional<T>>;

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
    listeners: section(
      z
      .object({
        // The internal listener is the homeserver's alone: no caps by default.
        client: listener(8090, { maxConnections: 1000, perIp: 100 }),
        internal: listener(8091, { maxConnections: 0, perIp: 0 }),
      })
      .strict()
      .default({}),
    ),
    database: section(
      z
      .object({
        engine: z.enum(['sqlite', 'postgres']).default('sqlite'),
        path: z.string().min(1).default('data/threepid.sqlite'),
        url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
        max_connections: z.number().int().min(1).max(1000).default(10),
      })
      .strict()
      .default({}),
    ),
    email: section(
      z
      .object({
        smtp_host: z.string().min(1).optional(),
        smtp_port: z.number().int().min(1).max(65535).optional(),
        smtp_user: z.string().optional(),
        smtp_pass: z.string().optional(),
        require_transport_security: z.boolean().default(false),
        force_tls: z.boolean().default(false),
        notif_from: z.string().min(1).optional(),
        app_name: z.string().min(1).default('Matrix'),
        default_language: z.string().regex(LANGUAGE_TAG, 'must be a language tag such as "en", "de" or "pt-BR"').default('en'),
        validation_token_lifetime: duration('1h'),
        dev_mail_dir: z.string().min(1).default('data/mail'),
        max_attempts: z.number().int().min(1).max(100).default(12),
        enabled: z.boolean().default(true),
        // Synapse's names for what this module does too.
        enable_tls: z.boolean().default(true),
        tlsname: z.string().min(1).optional(),
        template_dir: z.string().min(1).optional(),
        subjects: section(
          z
            .object({
              email_validation: z.string().min(1).optional(),
              password_reset: z.string().min(1).optional(),
              ...optionalKeys(SYNAPSE_NOTIFICATION_SUBJECTS, z.string()),
            })
            .strict()
            .default({}),
        ),
        // Synapse's notification keys: accepted (a pasted `email:` block
        // works) and reported as doing nothing here.
        ...optionalKeys(SYNAPSE_NOTIFICATION_KEYS, z.unknown()),
      })
      .strict()
      .default({}),
    ),
    templates: section(
      z
        .object({ custom_template_directory: z.string().min(1).optional() })
        .strict()
        .default({}),
    ),
    sms: section(
      z
        .object({
          enabled: z.boolean().default(true),
          sender: z.enum(['log', 'http', 'twilio']).default('log'),
          dev_sms_dir: z.string().min(1).default('data/sms'),
          validation_token_lifetime: duration('15m'),
          max_token_attempts: z.number().int().min(1).max(100).default(5),
          max_attempts: z.number().int().min(1).max(100).default(8),
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
          allowed_countries: z.array(z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')).default([]),
          denied_countries: z.array(z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')).default([]),
          rc_per_number: rateLimit(0.001, 3),
          rc_per_prefix: rateLimit(0.01, 10),
          rc_per_ip: rateLimit(0.003, 5),
          daily_limit: z.number().int().positive().default(1000),
        })
        .strict()
        .default({}),
    ),
    next_link_domain_whitelist: z.array(z.string().regex(hostPattern, 'must be a host name')).nullable().default(null),
    request_token_inhibit_3pid_errors: z.boolean().default(false),
    rc_3pid_validation: rateLimit(0.003, 5),
    trusted_proxies: z
      .array(
        z
          .string()
          .min(1)
          .refine(isTrustedProxyEntry, 'must be an IP address, a CIDR range, or loopback, linklocal or uniquelocal'),
      )
      .default([]),
    homeserver: section(
      z
      .object({
        shared_secret: z.string().optional(),
        base_url: z.string().url().optional(),
        jwt_audience: z.string().min(1).optional(),
        jwt_max_lifetime: duration('5m'),
      })
      .strict()
      .default({}),
    ),
    templates_dir: z.string().min(1).optional(),
    branding: section(
      z
        .object({
          logo_url: z.string().refine(isLogoUrl, 'must be an https URL or a path such as /static/logo.png').optional(),
          accent_color: z.string().regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a colour written #rrggbb or #rgb').optional(),
          support_url: z.string().refine(isSupportUrl, 'must be an https, http or mailto URL').optional(),
        })
        .strict()
        .default({}),
    ),
    outbox: section(
      z
        .object({
          lease: duration('1m'),
          batch_size: z.number().int().min(1).max(1000).default(50),
          keys: z.array(z.string().min(1)).min(1).optional(),
          key_file: z.string().min(1).optional(),
        })
        .strict()
        .default({}),
    ),
    accounts: section(
      z
        .object({ require_password: z.boolean().default(true) })
        .strict()
        .default({}),
    ),
    identity_server: section(
      z
        .object({
          proxy: z.boolean().default(false),
          trusted: z.array(z.string().min(1)).default([]),
          allow_http: z.boolean().default(false),
          ip_range_whitelist: z.array(z.string().min(1)).default([]),
          timeout: duration('10s'),
        })
        .strict()
        .default({}),
    ),
    identity_service_api: section(
      z
        .object({
          enabled: z.boolean().default(true),
          allowed_callers: z.array(z.string().min(1)).default(['127.0.0.0/8', '::1/128']),
        })
        .strict()
        .default({}),
    ),
  })
  .strict();

/** What an operator writes in the YAML file (every key optional). */
export type RawConfig = z.input<typeof rawSchema>;

type Parsed = z.output<typeof rawSchema>;

export type DatabaseSettings =
  | { readonly engine: 'sqlite'; readonly path: string }
  | { readonly engine: 'postgres'; readonly url: string; readonly maxConnections: number; readonly path: string };

export interface RateLimitSettings {
  readonly perSecond: number;
  readonly burstCount: number;
}

export type { ListenerSettings } from './http/listener';


/** The validated, frozen configuration the module runs on. */
export interface Config {
  readonly serverName: string;
  /** Always ends without a slash, so paths can be appended. */
  readonly publicBaseurl: string;
  /** The path part of `publicBaseurl` (`/matrix`), or `''`: the module's routes are also served under it. */
  readonly publicBasePath: string;
  readonly listeners: {
    readonly client: ListenerSettings;
    readonly internal: ListenerSettings;
  };
  readonly database: DatabaseSettings;
  readonly email: {
    /** Unset: the development transport writes messages to `devMailDir`. */
    readonly smtp?: {
      readonly host: string;
      readonly port: number;
      readonly user?: string;
      readonly pass?: string;
      readonly requireTransportSecurity: boolean;
      readonly forceTls: boolean;
      /** false (Synapse's `enable_tls: false`): never STARTTLS, even when offered. Default true. */
      readonly enableTls?: boolean;
      /** The name the server's certificate is checked against (default: `host`). */
      readonly tlsName?: string;
    };
    /** Subjects set in the config (Synapse's `email.subjects`), used instead of the subject templates. */
    readonly subjects: {
      readonly registration?: string;
      readonly passwordReset?: string;
      readonly addThreepid?: string;
    };
    readonly notifFrom: string;
    readonly appName: string;
    /** The language of emails, texts and pages when the request names none we have templates for. */
    readonly defaultLanguage: string;
    readonly validationTokenLifetimeMs: number;
    readonly devMailDir: string;
    readonly maxAttempts: number;
    readonly enabled: boolean;
  };
  readonly sms: {
    readonly enabled: boolean;
    readonly sender: 'log' | 'http' | 'twilio';
    readonly devSmsDir: string;
    readonly validationTokenLifetimeMs: number;
    /** Wrong codes a session takes before it is dead. */
    readonly maxTokenAttempts: number;
    /** Delivery attempts before a message is given up on. */
    readonly maxAttempts: number;
    readonly http?: { readonly url: string; readonly headers: Readonly<Record<string, string>>; readonly body: Readonly<Record<string, unknown>> };
    readonly twilio?: {
      readonly accountSid: string;
      readonly authToken: string;
      readonly from?: string;
      readonly messagingServiceSid?: string;
      readonly baseUrl: string;
    };
    /** Upper-case ISO 3166-1 alpha-2; empty: all. */
    readonly allowedCountries: readonly string[];
    readonly deniedCountries: readonly string[];
    readonly perNumber: RateLimitSettings;
    readonly perPrefix: RateLimitSettings;
    readonly perIp: RateLimitSettings;
    /** Codes sent in any 24 hours, all numbers together. */
    readonly dailyLimit: number;
  };
  readonly nextLinkDomainWhitelist: readonly string[] | null;
  readonly inhibit3pidErrors: boolean;
  readonly rateLimit: RateLimitSettings;
  readonly trustedProxies: readonly string[];
  readonly homeserver: {
    readonly sharedSecret?: string;
    readonly baseUrl?: string;
    readonly jwtAudience?: string;
    /** Internal JWTs whose `exp` is further ahead than this are refused. */
    readonly jwtMaxLifetimeMs: number;
  };
  readonly templatesDir?: string;
  /** Shown on the pages and in HTML emails. */
  readonly branding: {
    /** An https URL, or a path on the public server. */
    readonly logoUrl?: string;
    /** `#rrggbb` or `#rgb`. */
    readonly accentColor?: string;
    readonly supportUrl?: string;
  };
  /** Keys accepted (for Synapse's sake) that do nothing here, logged at start. */
  readonly ignoredKeys: readonly string[];
  readonly outbox: {
    /** How long a claimed message is reserved for its sender; then any replica may retry it. */
    readonly leaseMs: number;
    readonly batchSize: number;
    /**
     * Keys that seal payloads at rest, `id:base64` each, the current one
     * first (`outbox.keys`, or env `MATRIX_HS_THREEPID_OUTBOX_KEYS`, one per
     * line or comma-separated). Undefined: read from `keyFile`.
     */
    readonly keys?: readonly string[];
    /** A file of keys, one `id:base64` per line, current first. Default: `outbox-keys` beside the database, generated if missing. */
    readonly keyFile?: string;
  };
  readonly accounts: {
    /** `/account/3pid/add` asks for the user's password (UIA `m.login.password`). */
    readonly requirePassword: boolean;
  };
  readonly identityServer: {
    /** Forward requests that carry `id_server` to that identity server (MSC2140). */
    readonly proxy: boolean;
    /** `host[:port]` of the identity servers that may be used, lower-cased. */
    readonly trusted: readonly string[];
    readonly allowHttp: boolean;
    readonly ipRangeWhitelist: readonly string[];
    readonly timeoutMs: number;
  };
  /**
   * The identity-service v1 validation API on the internal listener, for
   * homeservers that delegate 3PID validation (Synapse, Dendrite).
   */
  readonly identityServiceApi: {
    readonly enabled: boolean;
    /** CIDR ranges of the socket addresses that are answered; others get 403. */
    readonly allowedCallers: readonly string[];
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Where secrets may come from instead of the file: `NAME` or a file named by `NAME_FILE`. */
const SECRET_ENV = {
  'email.smtp_pass': 'MATRIX_HS_THREEPID_SMTP_PASS',
  'homeserver.shared_secret': 'MATRIX_HS_THREEPID_SHARED_SECRET',
  'sms.twilio.auth_token': 'MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN',
  'database.url': 'MATRIX_HS_THREEPID_DATABASE_URL',
  'outbox.keys': 'MATRIX_HS_THREEPID_OUTBOX_KEYS',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Validates a raw config object (as read from YAML) and returns the frozen
 * {@link Config}. Every secret may come from the environment instead of the
 * file, or from a file the environment names (as container secrets are
 * mounted): `MATRIX_HS_THREEPID_SMTP_PASS` or `MATRIX_HS_THREEPID_SMTP_PASS_FILE`,
 * and the same for `SHARED_SECRET`, `TWILIO_AUTH_TOKEN`, `DATABASE_URL` and
 * `OUTBOX_KEYS`.
 *
 * @throws ConfigError listing every problem, each naming its key, e.g. `email.smtp_port`.
 */
export function parseConfig(raw: unknown, env: Env = {}): Config {
  const result = rawSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw ConfigError.of(
      result.error.issues.map((issue) => ({
        path: issue.path.join('.'),
        message: issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message,
      })),
    );
  }
  const issues: ConfigIssue[] = [];
  const config = fromParsed(result.data, env, (path, message) => issues.push({ path, message }));
  if (issues.length > 0) throw ConfigError.of(issues);
  return deepFreeze(config);
}

type Report = (path: string, message: string) => void;

/** A secret from `NAME`, from the file `NAME_FILE` names (one trailing newline dropped), or from the config file. */
function secret(key: keyof typeof SECRET_ENV, fromFile: string | undefined, env: Env, report: Report): string | undefined {
  const name = SECRET_ENV[key];
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && file !== undefined) {
    report(key, `set by both ${name} and ${name}_FILE: choose one`);
    return undefined;
  }
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      report(key, `cannot read ${name}_FILE (${file}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return undefined;
    }
  }
  return direct ?? fromFile;
}

function databaseSettings(raw: Parsed['database'], env: Env, report: Report): DatabaseSettings {
  if (raw.engine === 'sqlite') return { engine: 'sqlite', path: raw.path };
  const url = secret('database.url', raw.url, env, report);
  if (!url) report('database.url', `is required when database.engine is "postgres" (or env ${SECRET_ENV['database.url']})`);
  return { engine: 'postgres', url: url ?? '', maxConnections: raw.max_connections, path: raw.path };
}

function listenerSettings(raw: Parsed['listeners']['client']): ListenerSettings {
  return {
    host: raw.host,
    port: raw.port,
    maxConnections: raw.max_connections,
    maxConnectionsPerIp: raw.max_connections_per_ip,
    headerTimeoutMs: raw.header_timeout,
    requestTimeoutMs: raw.request_timeout,
    keepAliveTimeoutMs: raw.keep_alive_timeout,
  };
}

/** Where the outbox keys come from: the environment, the config's list, or a file. Each is checked here. */
function outboxKeys(raw: Parsed['outbox'], env: Env, report: Report): { keys?: readonly string[]; keyFile?: string } {
  const fromEnv = secret('outbox.keys', undefined, env, report)
    ?.split(/[\n,]/)
    .map((key) => key.trim())
    .filter((key) => key !== '');
  const keys = fromEnv?.length ? fromEnv : raw.keys;
  if (!fromEnv?.length && raw.keys && raw.key_file) report('outbox', 'give keys or key_file, not both');
  const where = fromEnv?.length ? SECRET_ENV['outbox.keys'] : 'outbox.keys';
  const ids = new Set<string>();
  keys?.forEach((text, index) => {
    const key = parseKeyLine(text);
    if (typeof key === 'string') return report(`${where}.${index}`, key);
    if (ids.has(key.id)) report(`${where}.${index}`, `key id "${key.id}" appears twice`);
    ids.add(key.id);
  });
  return keys ? { keys } : raw.key_file ? { keyFile: raw.key_file } : {};
}

function limitSettings(raw: { per_second: number; burst_count: number }): RateLimitSettings {
  return { perSecond: raw.per_second, burstCount: raw.burst_count };
}

/** Synapse's `%(app)s` and `%(server_name)s` placeholders, filled in as Synapse does. */
function synapseFormat(text: string, appName: string, serverName: string): string {
  return text.replaceAll('%(app)s', appName).replaceAll('%(server_name)s', serverName);
}

/** The templates folder, by any of its three names (they must agree). */
function templatesDir(c: Parsed, report: Report): string | undefined {
  const named = [
    ['templates_dir', c.templates_dir],
    ['templates.custom_template_directory', c.templates.custom_template_directory],
    ['email.template_dir', c.email.template_dir],
  ].filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (new Set(named.map(([, dir]) => dir)).size > 1) {
    report(named[1][0], `names another folder than ${named[0][0]}: set one of them`);
  }
  return named[0]?.[1];
}

function ignoredKeys(c: Parsed): string[] {
  const email = c.email as Record<string, unknown>;
  const subjects = c.email.subjects as Record<string, unknown>;
  return [
    ...SYNAPSE_NOTIFICATION_KEYS.filter((key) => email[key] !== undefined).map((key) => `email.${key}`),
    ...SYNAPSE_NOTIFICATION_SUBJECTS.filter((key) => subjects[key] !== undefined).map((key) => `email.subjects.${key}`),
  ];
}

function fromParsed(c: Parsed, env: Env, report: Report): Config {
  if (c.sms.sender === 'http' && !c.sms.http) report('sms.http', 'is required when sms.sender is "http"');
  if (c.sms.sender === 'twilio' && !c.sms.twilio) report('sms.twilio', 'is required when sms.sender is "twilio"');
  if (c.sms.twilio && !c.sms.twilio.from === !c.sms.twilio.messaging_service_sid) {
    report('sms.twilio', 'needs exactly one of from and messaging_service_sid');
  }
  const smtpPass = secret('email.smtp_pass', c.email.smtp_pass, env, report);
  const sharedSecret = secret('homeserver.shared_secret', c.homeserver.shared_secret, env, report);
  if (sharedSecret !== undefined && sharedSecret.length < MIN_SHARED_SECRET_LENGTH) {
    report('homeserver.shared_secret', `must be at least ${MIN_SHARED_SECRET_LENGTH} characters long`);
  }
  const twilioToken = c.sms.twilio ? secret('sms.twilio.auth_token', c.sms.twilio.auth_token, env, report) : undefined;
  if (c.sms.twilio && !twilioToken) {
    report('sms.twilio.auth_token', `is required (in the file, or env ${SECRET_ENV['sms.twilio.auth_token']} or ${SECRET_ENV['sms.twilio.auth_token']}_FILE)`);
  }
  c.identity_server.trusted.forEach((host, index) => {
    if (!isBareHost(host)) report(`identity_server.trusted.${index}`, 'must be host or host:port');
  });
  c.identity_server.ip_range_whitelist.forEach((cidr, index) => {
    if (!isValidCidr(cidr)) report(`identity_server.ip_range_whitelist.${index}`, 'must be a CIDR range');
  });
  c.identity_service_api.allowed_callers.forEach((cidr, index) => {
    if (!isValidCidr(cidr)) report(`identity_service_api.allowed_callers.${index}`, 'must be a CIDR range');
  });
  if (c.email.smtp_host === undefined && (c.email.smtp_user !== undefined || c.email.smtp_port !== undefined)) {
    report('email.smtp_host', 'is required when other smtp_* keys are set');
  }
  if (c.email.require_transport_security && !c.email.enable_tls) {
    report('email.enable_tls', 'is false, but require_transport_security needs TLS');
  }
  if (c.email.force_tls && !c.email.enable_tls) report('email.enable_tls', 'is false, but force_tls is TLS from the first byte');
  const smtp =
    c.email.smtp_host === undefined
      ? undefined
      : {
          host: c.email.smtp_host,
          port: c.email.smtp_port ?? (c.email.force_tls ? 465 : 25),
          user: c.email.smtp_user,
          pass: smtpPass,
          requireTransportSecurity: c.email.require_transport_security,
          forceTls: c.email.force_tls,
          enableTls: c.email.enable_tls,
          tlsName: c.email.tlsname,
        };
  const format = (text: string | undefined) => text && synapseFormat(text, c.email.app_name, c.server_name);
  // Synapse sends its email_validation subject for registration and for adding an address.
  const validationSubject = format(c.email.subjects.email_validation);
  return {
    serverName: c.server_name,
    publicBaseurl: c.public_baseurl.replace(/\/+$/, ''),
    publicBasePath: new URL(c.public_baseurl).pathname.replace(/\/+$/, ''),
    listeners: { client: listenerSettings(c.listeners.client), internal: listenerSettings(c.listeners.internal) },
    database: databaseSettings(c.database, env, report),
    email: {
      smtp,
      subjects: {
        registration: validationSubject,
        addThreepid: validationSubject,
        passwordReset: format(c.email.subjects.password_reset),
      },
      notifFrom: format(c.email.notif_from) ?? `${c.email.app_name} <noreply@${c.server_name}>`,
      appName: c.email.app_name,
      defaultLanguage: c.email.default_language,
      validationTokenLifetimeMs: c.email.validation_token_lifetime,
      devMailDir: c.email.dev_mail_dir,
      maxAttempts: c.email.max_attempts,
      enabled: c.email.enabled,
    },
    sms: {
      enabled: c.sms.enabled,
      sender: c.sms.sender,
      devSmsDir: c.sms.dev_sms_dir,
      validationTokenLifetimeMs: c.sms.validation_token_lifetime,
      maxTokenAttempts: c.sms.max_token_attempts,
      maxAttempts: c.sms.max_attempts,
      http: c.sms.http,
      twilio: c.sms.twilio && {
        accountSid: c.sms.twilio.account_sid,
        authToken: twilioToken ?? '',
        from: c.sms.twilio.from,
        messagingServiceSid: c.sms.twilio.messaging_service_sid,
        baseUrl: c.sms.twilio.base_url.replace(/\/+$/, ''),
      },
      allowedCountries: c.sms.allowed_countries.map((code) => code.toUpperCase()),
      deniedCountries: c.sms.denied_countries.map((code) => code.toUpperCase()),
      perNumber: limitSettings(c.sms.rc_per_number),
      perPrefix: limitSettings(c.sms.rc_per_prefix),
      perIp: limitSettings(c.sms.rc_per_ip),
      dailyLimit: c.sms.daily_limit,
    },
    nextLinkDomainWhitelist: c.next_link_domain_whitelist?.map((host) => host.toLowerCase()) ?? null,
    inhibit3pidErrors: c.request_token_inhibit_3pid_errors,
    rateLimit: limitSettings(c.rc_3pid_validation),
    trustedProxies: c.trusted_proxies,
    homeserver: {
      sharedSecret,
      baseUrl: c.homeserver.base_url?.replace(/\/+$/, ''),
      jwtAudience: c.homeserver.jwt_audience,
      jwtMaxLifetimeMs: c.homeserver.jwt_max_lifetime,
    },
    branding: { logoUrl: c.branding.logo_url, accentColor: c.branding.accent_color, supportUrl: c.branding.support_url },
    templatesDir: templatesDir(c, report),
    ignoredKeys: ignoredKeys(c),
    accounts: { requirePassword: c.accounts.require_password },
    outbox: { leaseMs: c.outbox.lease, batchSize: c.outbox.batch_size, ...outboxKeys(c.outbox, env, report) },
    identityServer: {
      proxy: c.identity_server.proxy,
      trusted: c.identity_server.trusted.map((host) => host.toLowerCase()),
      allowHttp: c.identity_server.allow_http,
      ipRangeWhitelist: c.identity_server.ip_range_whitelist,
      timeoutMs: c.identity_server.timeout,
    },
    identityServiceApi: {
      enabled: c.identity_service_api.enabled,
      allowedCallers: c.identity_service_api.allowed_callers,
    },
  };
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
  return parseConfig(raw, env);
}
