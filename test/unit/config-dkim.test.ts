import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config';
import { removeDir, tempDir } from '../support/harness';

const pem = (key: { export(options: { type: 'pkcs8'; format: 'pem' }): string | Buffer }) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const ed25519 = pem(generateKeyPairSync('ed25519').privateKey);
const rsa = pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
const ENV = 'MATRIX_HS_THREEPID_DKIM_PRIVATE_KEY';

const dkim = (more: object) => ({ email: { dkim: { domain: 'example.org', selector: 'mail', ...more } } });

function problems(raw: object, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(raw, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw err;
  }
  return [];
}

describe('email.dkim', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => removeDir(dir));

  it('reads the algorithm off the key', () => {
    expect(parseConfig(dkim({ private_key: rsa })).email.dkim).toMatchObject({ domain: 'example.org', selector: 'mail', algorithm: 'rsa-sha256' });
    expect(parseConfig(dkim({ private_key: ed25519 })).email.dkim?.algorithm).toBe('ed25519-sha256');
  });

  it('takes the key from private_key_path, from the environment, or from the file the environment names', () => {
    const file = path.join(dir, 'dkim.pem');
    writeFileSync(file, ed25519);
    expect(parseConfig(dkim({ private_key_path: file })).email.dkim?.algorithm).toBe('ed25519-sha256');
    expect(parseConfig(dkim({}), { [ENV]: rsa }).email.dkim?.algorithm).toBe('rsa-sha256');
    expect(parseConfig(dkim({}), { [`${ENV}_FILE`]: file }).email.dkim?.algorithm).toBe('ed25519-sha256');
  });

  it('needs the key from exactly one place', () => {
    expect(problems(dkim({}))).toEqual([expect.stringMatching(/^email\.dkim\.private_key: is required/)]);
    const [twice] = problems(dkim({ private_key: rsa }), { [ENV]: rsa });
    expect(twice).toBe(`email.dkim.private_key: set by private_key and ${ENV}: choose one`);
    expect(problems(dkim({ private_key: rsa, private_key_path: '/nonexistent' }))).toHaveLength(1);
  });

  it.each([
    ['an RSA key under 1024 bits', pem(generateKeyPairSync('rsa', { modulusLength: 768 }).privateKey), /RSA key of 768 bits/],
    ['an EC key', pem(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), /is a key of type ec; DKIM signs with an rsa or an ed25519 key/],
    ['text that is no key', 'not a key', /is not a private key in PEM form/],
    ['a public key', generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(), /is not a private key/],
  ])('refuses %s, naming email.dkim.private_key and never showing the key', (_what, key, message) => {
    const found = problems(dkim({ private_key: key }));
    expect(found).toEqual([expect.stringMatching(/^email\.dkim\.private_key: /)]);
    expect(found[0]).toMatch(message);
    expect(found[0]).not.toContain(key.split('\n')[1] ?? key);
  });

  it('reports a key file it cannot read under email.dkim.private_key', () => {
    expect(problems(dkim({ private_key_path: path.join(dir, 'missing.pem') }))).toEqual([
      expect.stringMatching(/^email\.dkim\.private_key: cannot read private_key_path \(.*missing\.pem\): ENOENT$/),
    ]);
  });

  it('needs a domain and a selector', () => {
    expect(problems({ email: { dkim: { private_key: rsa } } }).map((line) => line.split(':')[0])).toEqual(['email.dkim.domain', 'email.dkim.selector']);
  });

  it('is off by default', () => {
    expect(parseConfig({}).email.dkim).toBeUndefined();
  });
});
