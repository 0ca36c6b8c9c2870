import { readFileSync } from 'node:fs';
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { parseDuration } from '../duration';
import { durationValue } from './doc-marks';

/** What a section's mapping is given besides its keys: the environment, and where to report a problem. */
export type Env = Readonly<Record<string, string | undefined>>;
export type Report = (path: string, message: string) => void;

/**
 * A section's settings type, read off what its mapping returns: each key is
 * written once, in the schema, and once where it is mapped; parseConfig
 * freezes the whole, and this says so.
 */
export type Settings<T> = T extends readonly (infer U)[]
  ? readonly Settings<U>[]
  : T extends object
    ? { readonly [K in keyof T]: Settings<T[K]> }
    : T;

/**
 * A list of CIDR ranges, each checked (a bad one is reported under
 * `key.index`, with the mapping's other problems) and written as the
 * addresses it is matched against are: an IPv4-mapped IPv6 range
 * (`::ffff:10.0.0.5/128`) becomes its IPv4 range (`10.0.0.5/32`), since a
 * caller's `::ffff:` address is read as IPv4.
 */
export function cidrRanges(values: readonly string[], key: string, report: Report): string[] {
  return values.map((value, index) => {
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      range = ipaddr.parseCIDR(value);
    } catch {
      report(`${key}.${index}`, 'must be a CIDR range');
      return value;
    }
    const [address, prefix] = range;
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
      return `${(address as ipaddr.IPv6).toIPv4Address().toString()}/${prefix - 96}`;
    }
    return value;
  });
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

export const duration = (fallback: string) =>
  durationValue(z.union([z.string(), z.number()]))
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as "1h", "15m", "30s" or a number of milliseconds' });
        return z.NEVER;
      }
      return ms;
    });

/**
 * A YAML section whose keys are all commented out parses as null: treat it
 * as absent. Typed as taking what the inner schema takes, or null (zod types
 * a preprocessed input as unknown), so the config's input type is exact at
 * every depth.
 */
export const section = <T extends z.ZodTypeAny>(schema: T) =>
  z.preprocess((value) => (value === null ? undefined : value), schema) as z.ZodEffects<T, z.output<T>, z.input<T> | null>;

export const rateLimit = (perSecond: number, burstCount: number) =>
  section(
    z
      .object({
        per_second: z.number().positive().default(perSecond).describe('Requests the bucket regains per second: 0.003 is about one every 5½ minutes.'),
        burst_count: z.number().int().positive().default(burstCount).describe('Requests the bucket holds: how many may come at once before the rate applies.'),
      })
      .strict()
      .default({}),
  );

export function limitSettings(raw: { per_second: number; burst_count: number }) {
  return { perSecond: raw.per_second, burstCount: raw.burst_count };
}

export type RateLimitSettings = Settings<ReturnType<typeof limitSettings>>;

/** Keys that all take the one schema (and share its description). */
export const keysSharing = <K extends string, T extends z.ZodTypeAny>(keys: readonly K[], schema: T) =>
  Object.fromEntries(keys.map((key) => [key, schema])) as Record<K, T>;

/** Where secrets may come from instead of the file: `NAME` or a file named by `NAME_FILE`. */
export const SECRET_ENV = {
  'email.smtp_pass': 'MATRIX_HS_THREEPID_SMTP_PASS',
  'email.dkim.private_key': 'MATRIX_HS_THREEPID_DKIM_PRIVATE_KEY',
  'homeserver.shared_secret': 'MATRIX_HS_THREEPID_SHARED_SECRET',
  'sms.twilio.auth_token': 'MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN',
  'sms.sns.secret_access_key': 'MATRIX_HS_THREEPID_SNS_SECRET_ACCESS_KEY',
  'sms.vonage.api_secret': 'MATRIX_HS_THREEPID_VONAGE_API_SECRET',
  'database.url': 'MATRIX_HS_THREEPID_DATABASE_URL',
  'outbox.keys': 'MATRIX_HS_THREEPID_OUTBOX_KEYS',
} as const;

/** A secret from `NAME`, from the file `NAME_FILE` names (one trailing newline dropped), or from the config file. */
export function secret(key: keyof typeof SECRET_ENV, fromFile: string | undefined, env: Env, report: Report): string | undefined {
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
      // The variable's value is not shown: it may be the secret itself, set where its file's name belongs.
      report(key, `cannot read the file ${name}_FILE names: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      return undefined;
    }
  }
  return direct ?? fromFile;
}

/** Without a trailing slash, so paths can be appended. */
/**
 * A name the module writes into subjects, senders and texts (`app_name`):
 * no control or format characters, so a bidi override (U+202E) cannot
 * turn the rest of a subject round, nor a line break start a header.
 */
export const displayedName = (maxLength = 1000) =>
  z
    .string()
    .min(1)
    .max(maxLength)
    .refine((name) => !/[\p{Cc}\p{Cf}]/u.test(name), 'must not contain control or invisible formatting characters (line breaks, bidi controls)');

export const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, '');
