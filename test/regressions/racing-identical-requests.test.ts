// Regression: two identical first requestTokens arriving together (same
// client_secret, address and send_attempt) could each find no session and each
// insert one, so two sessions were opened and two emails sent. Only PostgreSQL,
// with requests on several connections, could race; SQLite serialises them.
import path from 'node:path';
import { queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';

describe('identical requestTokens sent at once', () => {
  let dir: string;
  let dbPath: string;
  let hs: Running;

  beforeAll(async () => {
    dir = tempDir();
    dbPath = path.join(dir, 'threepid.sqlite');
    hs = await startModule({ database: { path: dbPath }, email: { dev_mail_dir: path.join(dir, 'mail') } });
  });
  afterAll(async () => {
    await hs.close();
    removeDir(dir);
  });

  const ask = (secret: string, email: string, sendAttempt: number) =>
    post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: secret, email, send_attempt: sendAttempt });

  const outboxRows = async () => Number((await queryDb<{ n: number }>(dbPath, 'SELECT count(*) AS n FROM threepid_outbox'))[0].n);

  it('open one session and queue one email, whatever the interleaving', async () => {
    const before = await outboxRows();
    for (let round = 0; round < 5; round++) {
      const email = `race${round}@example.org`;
      const answers = await Promise.all(Array.from({ length: 12 }, () => ask(`secret${round}`, email, 1)));
      expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(200));
      expect(new Set(answers.map((answer) => answer.body.sid)).size).toBe(1);
      const sessions = await queryDb<{ n: number }>(dbPath, 'SELECT count(*) AS n FROM threepid_sessions WHERE address = ?', email);
      expect(Number(sessions[0].n)).toBe(1);
    }
    expect((await outboxRows()) - before).toBe(5);
  });

  it('send one new token for a higher send_attempt sent several times at once', async () => {
    const email = 'again@example.org';
    const first = await ask('again', email, 1);
    const before = await outboxRows();
    const answers = await Promise.all(Array.from({ length: 12 }, () => ask('again', email, 2)));
    expect(answers.every((answer) => answer.status === 200 && answer.body.sid === first.body.sid)).toBe(true);
    expect((await outboxRows()) - before).toBe(1);
  });
});
