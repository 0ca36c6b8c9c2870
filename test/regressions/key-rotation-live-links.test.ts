import path from 'node:path';
import { eventually, executeDb, queryDb } from '../support/e2e-utils';
import { CapturingLogger, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { checkOutboxKeys } from '../support/sidecar-process';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';
const VALIDATE = '/_threepid/client/v1/email/validate';
const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
const HOUR_MS = 3_600_000;

/**
 * Issue 22, item 9: the README said an old key could go once nothing sealed
 * with it was pending in the outbox. The key also makes sids opaque (and
 * now MACs tokens and client secrets): removed then, a link a minute old
 * opened the failure page. `--check` now says which older keys stored
 * sessions still need, and until when; the README's removal condition is
 * what it says.
 */
describe('rotating the outbox keys keeps live links working', () => {
  let dir: string;
  let file: string;
  let smtp: SmtpSink;
  let hs: Running | undefined;

  beforeEach(async () => {
    dir = tempDir('threepid-rotation-');
    file = path.join(dir, 'threepid.sqlite');
    smtp = await startSmtpSink();
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await smtp.close();
    removeDir(dir);
  });

  /** Starts the module on `keys`; answers what it logged. */
  async function startWith(keys: string[]): Promise<CapturingLogger> {
    await hs?.close();
    const logger = new CapturingLogger();
    hs = await startModule({ database: { path: file }, email: { smtp_host: '127.0.0.1', smtp_port: smtp.port }, outbox: { keys } }, { logger });
    return logger;
  }
  const keyLines = (logger: CapturingLogger) => logger.lines.filter((line) => line.message?.includes('older outbox key'));

  const check = (keys: string[]) => checkOutboxKeys(dir, file, keys);


  /** The rotation test's session rows (BIGINTs come back as strings on PostgreSQL). */
  async function session() {
    type Row = { created_at: number; expires_at: number; validated_at: number | null };
    const rows = await queryDb<Row>(file, 'SELECT * FROM threepid_sessions WHERE address = ?', 'rotation@example.org');
    return rows.map((row) => ({
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      validatedAt: row.validated_at === null ? null : Number(row.validated_at),
    }));
  }
  const until = (ms: number) => new Date(ms).toISOString();
  const openPage = (link: URL) => fetch(`${hs!.url}${VALIDATE}${link.search}`);

  it('a link made under the old key works after steps 1-2; --check keeps the key needed until the session cannot be used, then lets it go', async () => {
    await startWith([K1]);
    const request = { client_secret: 'rotation_secret', email: 'rotation@example.org', send_attempt: 1 };
    expect((await post(hs!.url + REGISTER, request)).status).toBe(200);
    const link = linkIn((await smtp.waitFor(1))[0]);
    const pending = async () => Number((await queryDb<{ n: number | string }>(file, "SELECT count(*) AS n FROM threepid_outbox WHERE status = 'pending'"))[0].n);
    await eventually(async () => (await pending()) === 0, 'the email recorded as sent');

    // Step 1, then step 2.
    await startWith([K1, K2]);
    const stepTwo = await startWith([K2, K1]);
    // The old README's condition holds: nothing sealed with k1 is pending.
    const [pendingUnderK1] = await queryDb<{ n: number | string }>(file, "SELECT count(*) AS n FROM threepid_outbox WHERE status = 'pending' AND payload LIKE 'v1.k1.%'");
    expect(Number(pendingUnderK1.n)).toBe(0);
    // Yet k1 is still needed, for the open session's token lifetime (1 h by default) and 24 hours more; and
    // 50 hours at the latest if the client continues it (see old-key-kept-by-repeated-requests.test.ts).
    const [open] = await session();
    expect(open.expiresAt).toBe(open.createdAt + HOUR_MS);
    const report = await check([K2, K1]);
    expect(report).toContain('keys: "k2" is current\n');
    expect(report).toContain(
      `keys: "k1" is still needed: 1 session(s) may use it until ${until(open.createdAt + 25 * HOUR_MS)} (${until(open.createdAt + 50 * HOUR_MS)} at the latest, if one is continued with a new token)`,
    );
    // The start says so too.
    expect(keyLines(stepTwo)).toEqual([
      {
        level: 'info',
        fields: {
          key: 'k1',
          sessions: 1,
          until: until(open.createdAt + 25 * HOUR_MS),
          until_if_continued: until(open.createdAt + 50 * HOUR_MS),
          pending_messages: 0,
        },
        message: 'an older outbox key is still needed: keep it in the ring',
      },
    ]);

    // Removed now, as the old README allowed, the link a minute old fails.
    await startWith([K2]);
    const broken = await openPage(link);
    expect(broken.status).toBe(400);
    expect(await broken.text()).toContain('This link did not work');

    // Kept, it works: a repeated request finds the same session and sends nothing, and the link validates it.
    await startWith([K2, K1]);
    expect((await openPage(link)).status).toBe(200);
    expect((await post(hs!.url + REGISTER, request)).status).toBe(200);
    expect(await session()).toHaveLength(1);
    const confirmed = await fetch(hs!.url + VALIDATE, { method: 'POST', body: link.searchParams, redirect: 'manual' });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('Email address confirmed');
    expect(smtp.messages).toHaveLength(1);

    // Validated: needed while it can be spent.
    const [validated] = await session();
    expect(validated.validatedAt).not.toBeNull();
    expect(await check([K2, K1])).toContain(`keys: "k1" is still needed: 1 session(s) may use it until ${until(validated.expiresAt)}`);

    // A session made under k2 does not keep k1; once the k1 session has expired, k1 may go.
    expect((await post(hs!.url + REGISTER, { ...request, client_secret: 'after_rotation', email: 'new@example.org' })).status).toBe(200);
    await executeDb(file, 'UPDATE threepid_sessions SET expires_at = ? WHERE address = ?', Date.now() - 1, 'rotation@example.org');
    const after = await check([K2, K1]);
    expect(after).toContain('keys: "k1" is no longer needed: it may be removed');
    expect(keyLines(await startWith([K2, K1])).map((line) => line.message)).toEqual(['an older outbox key is no longer needed: it may be removed']);
  }, 120_000);
});
