import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Report } from './common';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of `email.tls_ca_file` (PEM), each checked to parse; a problem is reported under the key. */
export function readTlsCa(file: string, report: Report): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    report('email.tls_ca_file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  const certificates = text.match(PEM_CERTIFICATE) ?? [];
  try {
    for (const certificate of certificates) new X509Certificate(certificate);
  } catch {
    report('email.tls_ca_file', `${file} holds a certificate that cannot be read`);
    return undefined;
  }
  if (certificates.length === 0) {
    report('email.tls_ca_file', `${file} holds no PEM certificate`);
    return undefined;
  }
  return certificates.join('\n');
}
