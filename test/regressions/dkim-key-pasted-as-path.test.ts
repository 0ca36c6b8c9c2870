/**
 * A DKIM key pasted into private_key_path (or into the _FILE variable) was
 * echoed whole in the config error, "cannot read private_key_path
 * (-----BEGIN PRIVATE KEY----- …)", and so in the start log and --check.
 */
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, parseConfig } from '../../src/config';

const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keyBody = pem.split('\n')[1];

function errorOf(build: () => unknown): string {
  try {
    build();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('the config was accepted');
}

it('private_key_path holding the key: the error says so and does not show it', () => {
  const message = errorOf(() => parseConfig({ email: { dkim: { domain: 'example.org', selector: 's', private_key_path: pem } } }));
  expect(message).toContain('email.dkim.private_key: private_key_path holds a key, not the name of a file');
  expect(message).not.toContain(keyBody);
});

it('MATRIX_HS_THREEPID_DKIM_PRIVATE_KEY_FILE holding the key: the same', () => {
  const message = errorOf(() =>
    parseConfig({ email: { dkim: { domain: 'example.org', selector: 's' } } }, { MATRIX_HS_THREEPID_DKIM_PRIVATE_KEY_FILE: pem }),
  );
  expect(message).toContain('MATRIX_HS_THREEPID_DKIM_PRIVATE_KEY_FILE holds a key');
  expect(message).not.toContain(keyBody);
});

it('a file name that cannot be read is still named', () => {
  expect(errorOf(() => parseConfig({ email: { dkim: { domain: 'example.org', selector: 's', private_key_path: '/nonexistent/dkim.pem' } } }))).toContain(
    'cannot read private_key_path (/nonexistent/dkim.pem): ENOENT',
  );
});
