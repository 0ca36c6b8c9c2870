// Group commit on SQLite puts the writes of the requests of one turn of the
// event loop in one transaction. A request is answered only once the COMMIT
// holding its rows succeeded: a 200 means its session and outbox message are
// in the file, even when the process is killed right after, and a COMMIT
// that fails (a full disk) answers every request of its group 503, none 200.
//
// The real sidecar process; a real small file system (a tmpfs of its own,
// which needs root) for the full disk.
import path from 'node:path';
import { rmSync } from 'node:fs';
import { eventually, queryDb } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { requestEmailToken, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { canMountSmallDisk, fillUp, makeSmallDisk } from '../support/small-disk';
import { testEngine } from '../support/postgres';

const onSqlite = testEngine() === 'sqlite' ? describe : describe.skip;
const LIMITS = { rc_3pid_validation: { per_second: 100_000, burst_count: 100_000 } };

let sidecar: SidecarProcess | undefined;
let cleanUp: (() => void) | undefined;

afterEach(async () => {
  await sidecar?.stop();
  sidecar = undefined;
  cleanUp?.();
  cleanUp = undefined;
});

/** The addresses that have a session and whose session has an outbox message written in the same transaction (one each here). */
async function storedAddresses(file: string): Promise<Set<string>> {
  const sessions = await queryDb<{ address: string }>(file, 'SELECT address FROM threepid_sessions');
  const [{ messages }] = await queryDb<{ messages: number }>(file, 'SELECT count(*) AS messages FROM threepid_outbox');
  expect(messages).toBe(sessions.length);
  return new Set(sessions.map((row) => row.address));
}

onSqlite('requests answered after the group commit that holds their rows', () => {
  it('keeps the rows of every 200 when the process is killed (SIGKILL) in the middle of a burst', async () => {
    const dir = tempDir('threepid-group-kill-');
    cleanUp = () => removeDir(dir);
    sidecar = await startSidecarProcess(dir, LIMITS);
    const running = sidecar;
    const promised: string[] = [];
    let next = 0;
    // Sixteen clients, each with one request in flight, until the process is gone.
    const client = async () => {
      while (running.running() && next < 5_000) {
        const email = `kill-${next++}@example.org`;
        const answer = await requestEmailToken(running, email, `kill-secret-${next}`).catch(() => undefined);
        if (answer?.status === 200) promised.push(email);
      }
    };
    const clients = Array.from({ length: 16 }, client);
    await eventually(() => promised.length >= 200, 'a burst under way', 60_000);
    running.kill('SIGKILL');
    await Promise.all(clients);
    expect(await running.exited).toBe('SIGKILL');

    const stored = await storedAddresses(path.join(dir, 'threepid.sqlite'));
    expect(promised.filter((email) => !stored.has(email))).toEqual([]);
  }, 90_000);

  (canMountSmallDisk ? it : it.skip)('answers 503 and no 200 to the requests of a group whose COMMIT fails for a full disk', async () => {
    const disk = makeSmallDisk('threepid-group-full-');
    cleanUp = () => disk.release();
    const file = path.join(disk.root, 'threepid.sqlite');
    sidecar = await startSidecarProcess(disk.dir, { ...LIMITS, database: { path: file } });
    const running = sidecar;
    expect((await requestEmailToken(running, 'first@example.org', 'first-secret')).status).toBe(200);

    const filler = path.join(disk.root, 'filler');
    fillUp(filler);
    const promised = ['first@example.org'];
    let wave = 0;
    // Waves of requests sent together (so answered by groups), until the full disk refuses some.
    const refused = await eventually(async () => {
      const emails = Array.from({ length: 8 }, (_, n) => `full-${wave}-${n}@example.org`);
      wave += 1;
      const answers = await Promise.all(emails.map((email) => requestEmailToken(running, email, email.replace('@', '_at_'))));
      answers.forEach((answer, n) => answer.status === 200 && promised.push(emails[n]));
      expect(answers.map((answer) => answer.status).filter((status) => status !== 200 && status !== 503)).toEqual([]);
      return answers.some((answer) => answer.status === 503) ? answers : undefined;
    }, 'a wave the full disk refuses', 60_000);
    expect(refused?.find((answer) => answer.status === 503)?.body).toMatchObject({ errcode: 'M_UNKNOWN' });

    rmSync(filler);
    await running.stop();
    sidecar = undefined;
    const stored = await storedAddresses(file);
    expect(promised.filter((email) => !stored.has(email))).toEqual([]);
  }, 120_000);
});
