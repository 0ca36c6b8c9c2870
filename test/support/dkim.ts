import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth/lib/dkim/verify';

export interface DkimKey {
  /** The private key, PKCS#8 PEM. */
  readonly pem: string;
  /** The TXT record a verifier finds at `<selector>._domainkey.<domain>` (RFC 6376 §3.6.1, RFC 8463 §4). */
  readonly record: string;
}

/** A fresh key of `type` and its DNS record, written here from the public key, not by the module's code. */
export function dkimKey(type: 'rsa' | 'ed25519'): DkimKey {
  if (type === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: `v=DKIM1; k=rsa; p=${spki.toString('base64')}` };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  // An Ed25519 record holds the bare 32-byte key: the end of its SubjectPublicKeyInfo.
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: `v=DKIM1; k=ed25519; p=${raw.toString('base64')}` };
}

/** mailauth's verdicts on `message`'s DKIM signatures, with DNS answered by `records` (name → TXT) alone. */
export async function dkimVerdicts(message: string | Buffer, records: Readonly<Record<string, string>>) {
  const resolver = async (name: string, type: string) => {
    const record = records[name];
    if (type === 'TXT' && record !== undefined) return [[record]];
    throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
  };
  const { results } = await dkimVerify(message, { resolver });
  return results.map((result) => ({
    result: result.status.result,
    // mailauth names it `algo` (its typings say `algorithm`).
    algorithm: (result as { algo?: string }).algo,
    domain: result.signingDomain,
    selector: result.selector,
  }));
}
