import path from 'node:path';
import { eventually, queryDb } from '../support/e2e-utils';
import { CapturingLogger, FakeClock, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { checkOutboxKeys } from '../support/sidecar-process';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const ADDRESS = 'pinned@example.org';

/**
 * Review: any client could keep a retired outbox key "still needed" for
 * ever. Repeating requestToken with send_attempt + 1 once a day continued
 * the session made under the old key (an open session was found however
 * old it was), gave it a new expiry, and kept its client secret's MAC,
 * which names the old key: neither `--check` nor the start's log line ever
 * let the key go, so an unauthenticated client could stop an operator
 * retiring a leaked key. A session is now continued only for its token
 * lifetime and 24 hours from when it was made; a later request opens a new
 * session under the current key, and the old one goes.
 */
describe('repeated requests do not keep an old key needed', () => {
  let dir: string;
  let file: string;
  let hs: Running | undefined;
  const clock = new FakeClock(Date.now());

  beforeEach(() => {
    dir = tempDir('threepid-pinned-key-');
    file = path.join(dir, 'threepid.sqlite');
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    removeDir(dir);
  });

  /** Starts the module on `keys`; answers the lines it logged about older keys. */
  async function startWith(keys: string[]) {
    await hs?.close();
    const logger = new CapturingLogger();
    hs = await startModule({ database: { path: file }, email: { dev_mail_dir: path.join(dir, 'mail') }, outbox: { keys } }, { logger, clock });
    return logger.lines.filter((line) => line.message?.includes('older outbox key'));
  }

  const check = (keys: string[]) => checkOutboxKeys(dir, file, keys);

  const request = (sendAttempt: number) => post(hs!.url + REGISTER, { client_secret: 'pinning_secret', email: ADDRESS, send_attempt: sendAttempt });
  const queuedNow = async () => Number((await queryDb<{ n: number | string }>(file, 'SELECT count(*) AS n FROM threepid_outbox WHERE created_at = ?', clock.now()))[0].n);
  const sessions = async () =>
    (await queryDb<{ sid: string; client_secret_hash: string }>(file, 'SELECT sid, client_secret_hash FROM threepid_sessions WHERE address = ?', ADDRESS)).map(
      (row) => ({ sid: row.sid, key: row.client_secret_hash.split('.')[1] }),
    );
  const until = (ms: number) => new Date(ms).toISOString();

  it('continues a session made under the old key only within its window, then opens a new one under the current key', async () => {
    await startWith([K1]);
    const first = await request(1);
    expect(first.status).toBe(200);
    const madeAt = clock.now();
    const [made] = await sessions();
    expect(made.key).toBe('k1');
    await eventually(async () => Number((await queryDb<{ n: number | string }>(file, "SELECT count(*) AS n FROM threepid_outbox WHERE status = 'pending'"))[0].n) === 0, 'the email sent');

    // Steps 1 and 2 of a rotation. The key is needed for the session's token (1 h) and 24 hours more, and
    // 50 hours after the session was made at the latest: continued at the end of its window (25 h), the new
    // token's hour, then 24 hours.
    await startWith([K1, K2]);
    expect(await startWith([K2, K1])).toEqual([
      {
        level: 'info',
        fields: { key: 'k1', sessions: 1, until: until(madeAt + 25 * HOUR_MS), until_if_continued: until(madeAt + 50 * HOUR_MS), pending_messages: 0 },
        message: 'an older outbox key is still needed: keep it in the ring',
      },
    ]);
    expect(await check([K2, K1])).toContain(
      `keys: "k1" is still needed: 1 session(s) may use it until ${until(madeAt + 25 * HOUR_MS)} (${until(madeAt + 50 * HOUR_MS)} at the latest, if one is continued with a new token)`,
    );

    // A day later, inside the window: the same attempt is the same session and sends nothing; a higher one
    // continues it (its sid is now handed out under k2: the stored session is the same). The latest the key
    // may be needed has not moved.
    clock.advance(DAY_MS);
    const sameAttempt = await request(1);
    expect(sameAttempt.status).toBe(200);
    expect(await queuedNow()).toBe(0);
    expect(await sessions()).toEqual([made]);
    const continued = await request(2);
    expect(continued.body.sid).toBe(sameAttempt.body.sid);
    expect(await queuedNow()).toBe(1);
    expect(await sessions()).toEqual([made]);
    const [dayOne] = await startWith([K2, K1]);
    expect(dayOne.fields).toMatchObject({ sessions: 1, until: until(clock.now() + 25 * HOUR_MS), until_if_continued: until(madeAt + 50 * HOUR_MS) });

    // Another day: past the window. The repeat opens a new session under k2, and k1 may go.
    clock.advance(DAY_MS);
    const secondDay = await request(3);
    expect(secondDay.status).toBe(200);
    expect(secondDay.body.sid).not.toBe(continued.body.sid);
    expect(await queuedNow()).toBe(1);
    const [replacement] = await sessions();
    expect(replacement).toEqual({ sid: expect.not.stringMatching(`^${made.sid}$`), key: 'k2' });
    expect(await sessions()).toHaveLength(1);
    expect((await startWith([K2, K1])).map((line) => line.message)).toEqual(['an older outbox key is no longer needed: it may be removed']);

    // Continued daily under the current key, the session is replaced the same way: the new one, under the
    // same MAC, takes the old one's place on the unique index of open sessions.
    const stored = new Set([made.sid, replacement.sid]);
    for (let day = 3; day <= 5; day++) {
      clock.advance(DAY_MS);
      expect((await request(day + 1)).status).toBe(200);
      const now = await sessions();
      expect(now).toEqual([{ sid: expect.any(String), key: 'k2' }]);
      stored.add(now[0].sid);
    }
    // Day 3 continued day 2's session; day 4 replaced it; day 5 continued that one.
    expect(stored.size).toBe(3);
  }, 120_000);
});
