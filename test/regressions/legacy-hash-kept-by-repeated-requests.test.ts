import { hash } from 'node:crypto';
import path from 'node:path';
import { executeDb, queryDb } from '../support/e2e-utils';
import { FakeClock, post, removeDir, startModule, tempDir, type Running } from '../support/harness';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const SECRET = 'shortsecret1';
const ADDRESS = 'legacy@example.org';
const HOUR_MS = 3_600_000;
/** The default email token lifetime and the 24 hours after it. */
const WINDOW_MS = 25 * HOUR_MS;

/**
 * Review: a session stored before MACs (its client secret as a plain
 * SHA-256) was continued by every requestToken with a higher send_attempt,
 * however old it was: each gave it a new expiry, so a client repeating its
 * request kept the unkeyed hash in the database for ever, and the README's
 * "stored only as HMAC … rows stored before still work until they are
 * purged" was false. A session is now continued only for its token lifetime
 * and 24 hours from when it was made; a later request replaces it with a
 * session under the current key.
 */
describe('a session stored before MACs is not kept alive by repeated requests', () => {
  let dir: string;
  let file: string;
  let hs: Running | undefined;
  const clock = new FakeClock(Date.now());

  beforeEach(() => {
    dir = tempDir('threepid-legacy-hash-');
    file = path.join(dir, 'threepid.sqlite');
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    removeDir(dir);
  });


  const request = (sendAttempt: number) => post(hs!.url + REGISTER, { client_secret: SECRET, email: ADDRESS, send_attempt: sendAttempt });
  const sessions = () => queryDb<{ sid: string; client_secret_hash: string }>(file, 'SELECT sid, client_secret_hash FROM threepid_sessions WHERE address = ?', ADDRESS);
  const queuedNow = async () => Number((await queryDb<{ n: number | string }>(file, 'SELECT count(*) AS n FROM threepid_outbox WHERE created_at = ?', clock.now()))[0].n);

  it('continues it within its window only, then replaces it with a session under the current key', async () => {
    hs = await startModule({ database: { path: file }, email: { dev_mail_dir: path.join(dir, 'mail') } }, { clock });
    const first = await request(1);
    expect(first.status).toBe(200);
    // What the version before MACs wrote for the same request: an unkeyed SHA-256 of the client secret.
    const legacy = hash('sha256', SECRET, 'base64url');
    await executeDb(file, 'UPDATE threepid_sessions SET client_secret_hash = ? WHERE address = ?', legacy, ADDRESS);
    const [made] = await sessions();

    // Within the window the spec's idempotency holds: the same attempt sends nothing, a higher one continues it.
    clock.advance(60_000);
    expect((await request(1)).body.sid).toBe(first.body.sid);
    expect(await queuedNow()).toBe(0);
    clock.advance(WINDOW_MS - 60_000);
    expect((await request(2)).body.sid).toBe(first.body.sid);
    expect(await queuedNow()).toBe(1);
    expect(await sessions()).toEqual([made]);

    // The window counts from when the session was made, not from its last token: a millisecond past it, the
    // same attempt opens a new session (and sends its token), and the row with the plain hash is gone.
    clock.advance(1);
    const late = await request(2);
    expect(late.status).toBe(200);
    expect(late.body.sid).not.toBe(first.body.sid);
    expect(await queuedNow()).toBe(1);
    const rows = await sessions();
    expect(rows).toHaveLength(1);
    expect(rows[0].client_secret_hash).toMatch(/^v1\./);
  });
});
