import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface IssuedCertificate {
  readonly key: string;
  readonly cert: string;
}

export interface TestCa {
  /** The CA's certificate, PEM, in a file of its own (for `email.tls_ca_file`). */
  readonly caFile: string;
  /** A certificate for `name` (its subjectAltName), signed by this CA. */
  issue(name: string): IssuedCertificate;
}

const openssl = (cwd: string, ...args: string[]) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

/** A throwaway certificate authority in `dir`, made with Debian's openssl. */
export function createTestCa(dir: string): TestCa {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=threepid test CA');
  let serial = 0;
  return {
    caFile: path.join(dir, 'ca.pem'),
    issue(name) {
      const base = `server-${++serial}`;
      openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`);
      writeFileSync(path.join(dir, `${base}.ext`), `subjectAltName=DNS:${name}\n`);
      openssl(dir, 'x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${base}.ext`, '-out', `${base}.pem`);
      return { key: readFileSync(path.join(dir, `${base}.key`), 'utf8'), cert: readFileSync(path.join(dir, `${base}.pem`), 'utf8') };
    },
  };
}
