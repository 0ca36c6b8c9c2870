import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { parseDuration } from './duration';
import { isBareHost } from './identity/client';
import { parseKeyLine } from './keyring';

function isValidCidr(value: string): boolean {
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

/** Raised for a config that cannot be used; `path` names the bad key. */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(path ? `config: ${path}: ${message}` : `config: ${message}`);
    this.name = 'ConfigError';
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

const listener = (port: number) =>
  section(
    z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(port),
      })
      .strict()
      .default({}),
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

const rawSchema = z
  .object({
    server_name: z.string().min(1).default('localhost'),
    public_baseurl: z.string().url().default('http://localhost:8090/'),
    listeners: section(
      z
      .object({ client: listener(8090), internal: listener(8091) })
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
        validation_token_lifetime: duration('1h'),
        dev_mail_dir: z.string().min(1).default('data/mail'),
        max_attempts: z.number().int().min(1).max(100).default(12),
        enabled: z.boolean().default(true),
      })
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
                auth_token: z.string().min(1),
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
    trusted_proxies: z.array(z.string().min(1)).default([]),
    homeserver: section(
      z
      .object({
        shared_secret: z.string().optional(),
        base_url: z.string().url().optional(),
        jwt_audience: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    ),
    templates_dir: z.string().min(1).optional(),
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

/** The validated, frozen configuration the module runs on. */
export interface Config {
  readonly serverName: string;
  /** Always ends without a slash, so paths can be appended. */
  readonly publicBaseurl: string;
  readonly listeners: {
    readonly client: { readonly host: string; readonly port: number };
    readonly internal: { readonly host: string; readonly port: number };
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
    };
    readonly notifFrom: string;
    readonly appName: string;
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
  };
  readonly templatesDir?: string;
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
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Validates a raw config object (as read from YAML) and returns the frozen
 * {@link Config}. Secrets may come from the environment instead of the file:
 * `MATRIX_HS_THREEPID_SMTP_PASS`, `MATRIX_HS_THREEPID_SHARED_SECRET`,
 * `MATRIX_HS_THREEPID_OUTBOX_KEYS`…
 *
 * @throws ConfigError naming the first bad key, e.g. `email.smtp_port`.
 */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = {}): Config {
  const result = rawSchema.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message;
    throw new ConfigError(path, message);
  }
  return deepFreeze(fromParsed(result.data, env));
}

function databaseSettings(raw: Parsed['database'], env: NodeJS.ProcessEnv): DatabaseSettings {
  if (raw.engine === 'sqlite') return { engine: 'sqlite', path: raw.path };
  const url = env.MATRIX_HS_THREEPID_DATABASE_URL ?? raw.url;
  if (!url) throw new ConfigError('database.url', 'is required when database.engine is "postgres"');
  return { engine: 'postgres', url, maxConnections: raw.max_connections, path: raw.path };
}

/** Where the outbox keys come from: the environment, the config's list, or a file. Each is checked here. */
function outboxKeys(raw: Parsed['outbox'], env: NodeJS.ProcessEnv): { keys?: readonly string[]; keyFile?: string } {
  const fromEnv = env.MATRIX_HS_THREEPID_OUTBOX_KEYS?.split(/[\n,]/).map((key) => key.trim()).filter((key) => key !== '');
  const keys = fromEnv?.length ? fromEnv : raw.keys;
  if (!fromEnv?.length && raw.keys && raw.key_file) throw new ConfigError('outbox', 'give keys or key_file, not both');
  const where = fromEnv?.length ? 'MATRIX_HS_THREEPID_OUTBOX_KEYS' : 'outbox.keys';
  const ids = new Set<string>();
  keys?.forEach((text, index) => {
    const key = parseKeyLine(text);
    if (typeof key === 'string') throw new ConfigError(`${where}.${index}`, key);
    if (ids.has(key.id)) throw new ConfigError(`${where}.${index}`, `key id "${key.id}" appears twice`);
    ids.add(key.id);
  });
  return keys ? { keys } : raw.key_file ? { keyFile: raw.key_file } : {};
}

function limitSettings(raw: { per_second: number; burst_count: number }): RateLimitSettings {
  return { perSecond: raw.per_second, burstCount: raw.burst_count };
}

function fromParsed(c: Parsed, env: NodeJS.ProcessEnv): Config {
  if (c.sms.sender === 'http' && !c.sms.http) throw new ConfigError('sms.http', 'is required when sms.sender is "http"');
  if (c.sms.sender === 'twilio' && !c.sms.twilio) {
    throw new ConfigError('sms.twilio', 'is required when sms.sender is "twilio"');
  }
  if (c.sms.twilio && !c.sms.twilio.from === !c.sms.twilio.messaging_service_sid) {
    throw new ConfigError('sms.twilio', 'needs exactly one of from and messaging_service_sid');
  }
  const smtpPass = env.MATRIX_HS_THREEPID_SMTP_PASS ?? c.email.smtp_pass;
  const sharedSecret = env.MATRIX_HS_THREEPID_SHARED_SECRET ?? c.homeserver.shared_secret;
  if (sharedSecret !== undefined && sharedSecret.length < MIN_SHARED_SECRET_LENGTH) {
    throw new ConfigError('homeserver.shared_secret', `must be at least ${MIN_SHARED_SECRET_LENGTH} characters long`);
  }
  c.identity_server.trusted.forEach((host, index) => {
    if (!isBareHost(host)) throw new ConfigError(`identity_server.trusted.${index}`, 'must be host or host:port');
  });
  c.identity_server.ip_range_whitelist.forEach((cidr, index) => {
    if (!isValidCidr(cidr)) throw new ConfigError(`identity_server.ip_range_whitelist.${index}`, 'must be a CIDR range');
  });
  if (c.email.smtp_host === undefined && (c.email.smtp_user !== undefined || c.email.smtp_port !== undefined)) {
    throw new ConfigError('email.smtp_host', 'is required when other smtp_* keys are set');
  }
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
        };
  return {
    serverName: c.server_name,
    publicBaseurl: c.public_baseurl.replace(/\/+$/, ''),
    listeners: c.listeners,
    database: databaseSettings(c.database, env),
    email: {
      smtp,
      notifFrom: c.email.notif_from ?? `${c.email.app_name} <noreply@${c.server_name}>`,
      appName: c.email.app_name,
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
        authToken: env.MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN ?? c.sms.twilio.auth_token,
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
    },
    templatesDir: c.templates_dir,
    accounts: { requirePassword: c.accounts.require_password },
    outbox: { leaseMs: c.outbox.lease, batchSize: c.outbox.batch_size, ...outboxKeys(c.outbox, env) },
    identityServer: {
      proxy: c.identity_server.proxy,
      trusted: c.identity_server.trusted.map((host) => host.toLowerCase()),
      allowHttp: c.identity_server.allow_http,
      ipRangeWhitelist: c.identity_server.ip_range_whitelist,
      timeoutMs: c.identity_server.timeout,
    },
  };
}

/**
 * Reads and validates a YAML config file. An empty file gives the defaults.
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = {}): Config {
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
