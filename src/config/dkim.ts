import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { SECRET_ENV, section, type Env, type Report } from './common';

/** `email.dkim`: the signing domain, the selector, and the private key from exactly one place. */
export const DKIM = section(
  z
    .object({
      domain: z.string().min(1).describe('The signing domain (d=). DMARC counts the signature for the sender only when it is the domain of `notif_from` or one above or below it.'),
      selector: z.string().min(1).describe('The selector (s=): the public key is published as a TXT record at `<selector>._domainkey.<domain>`.'),
      private_key: z.string().min(1).optional().describe('The private key, in PEM form. The key comes from exactly one of this, `private_key_path` and the environment.'),
      private_key_path: z.string().min(1).optional().describe('A file holding the private key, in PEM form.'),
    })
    .strict()
    .optional(),
);

type RawDkim = z.output<typeof DKIM>;

const KEY = 'email.dkim.private_key';

/** RFC 8301: verifiers must not accept RSA keys shorter than this. */
const MIN_RSA_BITS = 1024;

/** The key's PEM from the one place it is set; each problem reported under `email.dkim.private_key`, never with the key. */
function keyText(raw: NonNullable<RawDkim>, env: Env, report: Report): string | undefined {
  const name = SECRET_ENV[KEY];
  const sources = [
    ['private_key', raw.private_key],
    ['private_key_path', raw.private_key_path],
    [name, env[name]],
    [`${name}_FILE`, env[`${name}_FILE`]],
  ].filter(([, value]) => value !== undefined) as Array<[string, string]>;
  if (sources.length !== 1) {
    report(
      KEY,
      sources.length === 0
        ? `is required: set private_key, private_key_path, ${name} or ${name}_FILE`
        : `set by ${sources.map(([source]) => source).join(' and ')}: choose one`,
    );
    return undefined;
  }
  const [[source, value]] = sources;
  if (source === 'private_key' || source === name) return value;
  // A key pasted where a file name goes: said so, never echoed.
  if (/-----BEGIN|[\r\n]/.test(value)) {
    report(KEY, `${source} holds a key, not the name of a file: put the key in private_key or ${name}`);
    return undefined;
  }
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    report(KEY, `cannot read ${source} (${value}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

/** The DKIM algorithm a key signs with, read off the key; undefined (reported) for a key DKIM cannot use. */
function algorithmOf(key: KeyObject, report: Report): 'rsa-sha256' | 'ed25519-sha256' | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519-sha256';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits >= MIN_RSA_BITS) return 'rsa-sha256';
    report(KEY, `is an RSA key of ${bits} bits; DKIM needs at least ${MIN_RSA_BITS} (2048 is usual)`);
    return undefined;
  }
  report(KEY, `is a key of type ${key.asymmetricKeyType ?? 'secret'}; DKIM signs with an rsa or an ed25519 key`);
  return undefined;
}

export function toDkim(raw: RawDkim, env: Env, report: Report) {
  if (raw === undefined) return undefined;
  const text = keyText(raw, env, report);
  if (text === undefined) return undefined;
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    report(KEY, 'is not a private key in PEM form');
    return undefined;
  }
  const algorithm = algorithmOf(key, report);
  if (algorithm === undefined) return undefined;
  return {
    domain: raw.domain,
    selector: raw.selector,
    algorithm,
    /** PKCS#8 PEM, whatever form it was given in: it crosses to the SMTP thread as text. */
    privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The domain of the address in `from` (`Name <a@b>` or `a@b`), lower case, ASCII; undefined when there is none. */
function domainOf(from: string): string | undefined {
  const match = /@([^@<>\s"]+)>?\s*$/.exec(from);
  return match ? canonicalDomain(match[1]) : undefined;
}

const canonicalDomain = (domain: string) => (domainToASCII(domain) || domain).toLowerCase().replace(/\.$/, '');

/**
 * Said at start and by `--check` when the signing domain is neither the
 * From domain nor a domain above or below it: DMARC would not count the
 * signature for the From domain (relaxed alignment, RFC 7489 §3.1.1), so a
 * receiver sees mail that passes DKIM yet fails DMARC.
 */
export function dkimAlignmentWarning(dkim: { readonly domain: string } | undefined, notifFrom: string): string | undefined {
  const from = domainOf(notifFrom);
  if (!dkim || from === undefined) return undefined;
  const signing = canonicalDomain(dkim.domain);
  if (from === signing || from.endsWith(`.${signing}`) || signing.endsWith(`.${from}`)) return undefined;
  return `email.dkim.domain (${signing}) is not the domain of email.notif_from (${from}) nor a domain above or below it: unless both are under one registered domain, DMARC does not count the signature for the sender's domain`;
}
