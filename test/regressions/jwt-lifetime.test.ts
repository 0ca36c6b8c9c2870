// Regression: a correctly signed internal JWT with `exp` ten years away, or
// `exp: 1e999` (JSON's way to write Infinity), was accepted, so a leaked token
// worked for ever. Tokens may now live at most `homeserver.jwt_max_lifetime`
// (default 5 minutes) and `exp` must be a finite integer.
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { removeDir, SHARED_SECRET, startModule, tempDir, type Running } from '../support/harness';

/** A JWT whose payload is exactly this JSON text (jsonwebtoken cannot write `1e999`). */
function signedRaw(payloadJson: string, secret = SHARED_SECRET): string {
  const part = (text: string) => Buffer.from(text).toString('base64url');
  const unsigned = `${part('{"alg":"HS256","typ":"JWT"}')}.${part(payloadJson)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);

describe.each([
  ['the default maximum (5 minutes)', {}, 300],
  ['homeserver.jwt_max_lifetime: 1h', { jwt_max_lifetime: '1h' }, 3600],
])('internal JWTs with %s', (_name, homeserver, maxSeconds) => {
  let dir: string;
  let hs: Running;

  beforeAll(async () => {
    dir = tempDir();
    hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') }, homeserver: { shared_secret: SHARED_SECRET, ...homeserver } });
  });

  afterAll(async () => {
    await hs.close();
    removeDir(dir);
  });

  const status = async (token: string) =>
    (await fetch(`${hs.internalUrl}/_threepid/v1/bindings/email/a%40example.org`, { headers: { authorization: `Bearer ${token}` } })).status;

  it.each([
    ['exp ten years ahead', () => `{"exp":${now() + 10 * 365 * 86400}}`],
    ['exp just over the maximum ahead', () => `{"exp":${now() + maxSeconds + 30}}`],
    ['exp: 1e999 (Infinity)', () => '{"exp":1e999}'],
    ['a fractional exp', () => `{"exp":${now() + 60}.5}`],
    ['exp as a string', () => `{"exp":"${now() + 60}"}`],
  ])('refuses %s with 401', async (_case, payload) => {
    expect(await status(signedRaw(payload()))).toBe(401);
  });

  it('accepts a token within the maximum', async () => {
    // 404: past authentication, to a binding that does not exist.
    expect(await status(signedRaw(`{"exp":${now() + maxSeconds - 30}}`))).toBe(404);
  });
});
