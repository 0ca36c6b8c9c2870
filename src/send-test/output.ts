import type { Config } from '../config';
import { secretPattern } from './secret-forms';

/** Config keys (at any depth) whose values are secrets. */
const SECRET_KEYS = new Set(['pass', 'sharedSecret', 'authToken', 'secretAccessKey', 'sessionToken', 'apiSecret', 'privateKey', 'keys']);

/** Shorter values are not hidden: replacing them would garble the transcript, and no real secret is that short. */
const SHORTEST_SECRET = 4;

function collect(value: unknown, underSecretKey: boolean, into: string[]): void {
  if (typeof value === 'string') {
    if (underSecretKey) into.push(value, ...value.split(/\r?\n/).map((line) => line.trim()));
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, underSecretKey, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) collect(inner, underSecretKey || SECRET_KEYS.has(key), into);
  }
}

/**
 * Every secret the configuration holds: passwords, tokens, keys (each line
 * of a PEM key too), the PostgreSQL URL, and the HTTP gateway's headers
 * (where its API key goes).
 */
export function secretsOf(config: Config): string[] {
  const found: string[] = [];
  collect(config, false, found);
  if (config.database.engine === 'postgres') found.push(config.database.url);
  for (const value of Object.values(config.sms.http?.headers ?? {})) found.push(value);
  return [...new Set(found)].filter((secret) => secret.length >= SHORTEST_SECRET && !/^-----/.test(secret)).sort((a, b) => b.length - a.length);
}

/**
 * Where a send test writes: the transcript on stdout, the failure on
 * stderr. Each line has every configured secret replaced with `<hidden>`,
 * whatever printed it: a server or gateway echoing one back is hidden too,
 * as it was sent (base64 in an AUTH exchange or a Basic header,
 * percent-encoded in a form) or in the clear.
 */
export class SendTestOutput {
  private readonly secretForms: RegExp | undefined;

  constructor(
    secrets: readonly string[],
    private readonly stdout: (text: string) => void = (text) => process.stdout.write(text),
    private readonly stderr: (text: string) => void = (text) => process.stderr.write(text),
  ) {
    this.secretForms = secretPattern(secrets);
  }

  hide(text: string): string {
    return this.secretForms ? text.replace(this.secretForms, '<hidden>') : text;
  }

  line(text: string): void {
    this.stdout(`${this.hide(text)}\n`);
  }

  problem(text: string): void {
    this.stderr(`${this.hide(text)}\n`);
  }
}
