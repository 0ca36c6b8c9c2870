import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { BackgroundThread } from '../../src/background-thread';
import { ThreadedMailTransport } from '../../src/delivery/smtp-thread';
import { threadEntryFile } from '../../src/package-files';
import { WalCheckpointer, type CheckpointResult } from '../../src/store/wal-checkpointer';
import { eventually } from '../support/e2e-utils';
import { CapturingLogger, removeDir, tempDir } from '../support/harness';
import { startSmtpSink, validationMail, type SmtpSink } from '../support/smtp';

const message = validationMail;

describe('the background thread (WAL checkpoints and SMTP on one worker)', () => {
  let dir: string;
  let sink: SmtpSink;
  let marks: string;
  let entry: string;
  let connection: BetterSqlite3.Database;
  const file = () => path.join(dir, 'db.sqlite');
  /** One line per start and per exit of a thread, written by the thread itself. */
  const lines = () => (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []);

  beforeEach(async () => {
    dir = tempDir('threepid-background-');
    sink = await startSmtpSink();
    marks = path.join(dir, 'marks');
    const realEntry = threadEntryFile('background');
    if (!realEntry) throw new Error('no compiled thread entry: dist/ is built by the test setup');
    // The real thread, which also says when it starts and ends, and dies on
    // a message to crash@example.org (a crash of the whole thread).
    entry = path.join(dir, 'thread.js');
    writeFileSync(
      entry,
      [
        "const { parentPort } = require('node:worker_threads');",
        "const { appendFileSync } = require('node:fs');",
        `const mark = (line) => appendFileSync(${JSON.stringify(marks)}, line + '\\n');`,
        "mark('start');",
        "process.on('exit', () => mark('exit'));",
        "parentPort.on('message', (m) => { if (m.type === 'send' && m.message.to === 'crash@example.org') process.exit(7); });",
        `require(${JSON.stringify(realEntry)});`,
      ].join('\n'),
    );
    connection = new BetterSqlite3(file());
    connection.pragma('journal_mode = WAL');
    connection.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  });
  afterEach(async () => {
    connection.close();
    await sink.close();
    removeDir(dir);
  });

  const settings = () => ({ host: '127.0.0.1', port: sink.port, requireTransportSecurity: false, forceTls: false });

  async function checkpointed(checkpointer: WalCheckpointer, body: string): Promise<void> {
    const results: CheckpointResult[] = [];
    const stop = checkpointer.onCheckpoint((result) => results.push(result));
    connection.prepare('INSERT INTO t (body) VALUES (?)').run(body);
    await eventually(() => results.some((r) => r.log > 0 && r.checkpointed === r.log), `the write of ${body} to be checkpointed`);
    stop();
  }

  it('runs both jobs on one thread, which exits once both have stopped', async () => {
    const thread = new BackgroundThread(entry);
    const checkpointer = new WalCheckpointer(connection, file(), { thread, intervalMs: 20 });
    const transport = ThreadedMailTransport.create(settings(), new CapturingLogger(), thread)!;
    await checkpointed(checkpointer, 'before mail');
    await transport.send(message('a@example.org'));
    await sink.nthTo('a@example.org', 1);
    // SMTP closing leaves the checkpoints running on the same thread.
    transport.close();
    await checkpointed(checkpointer, 'after mail');
    expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    expect(lines()).toEqual(['start']);
    await checkpointer.stop();
    await eventually(() => lines().includes('exit'), 'the thread to exit once no job is left');
    expect(lines()).toEqual(['start', 'exit']);
  });

  it('keeps sending mail when the checkpoint job fails, and the checkpoints fall back to commits', async () => {
    const thread = new BackgroundThread(entry);
    const transport = ThreadedMailTransport.create(settings(), new CapturingLogger(), thread)!;
    await transport.send(message('b1@example.org'));
    const reasons: string[] = [];
    // The job cannot open a file in a folder that does not exist.
    const checkpointer = new WalCheckpointer(connection, path.join(dir, 'missing', 'db.sqlite'), {
      thread,
      intervalMs: 20,
      restartDelayMs: 60_000,
      onFallback: (reason) => reasons.push(reason),
    });
    try {
      await eventually(() => checkpointer.inline, 'the fallback to checkpoints inside commits');
      expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
      expect(reasons).toHaveLength(1);
      await transport.send(message('b2@example.org'));
      await sink.nthTo('b2@example.org', 1);
      // The same thread sent both: the checkpoint job's failure left it running.
      expect(lines()).toEqual(['start']);
    } finally {
      transport.close();
      await checkpointer.stop();
    }
  });

  it('when the thread dies, fails the mail in flight, checkpoints inside commits, and starts a new thread for both', async () => {
    const thread = new BackgroundThread(entry);
    const reasons: string[] = [];
    let recoveries = 0;
    const checkpointer = new WalCheckpointer(connection, file(), {
      thread,
      intervalMs: 20,
      restartDelayMs: 50,
      onFallback: (reason) => reasons.push(reason),
      onRecovery: () => (recoveries += 1),
    });
    const transport = ThreadedMailTransport.create(settings(), new CapturingLogger(), thread)!;
    try {
      await checkpointed(checkpointer, 'first');
      const err = await transport.send(message('crash@example.org')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ETHREAD' });
      await eventually(() => reasons.length > 0, 'the checkpoints to fall back');
      expect(reasons[0]).toMatch(/exited \(7\)/);
      await eventually(() => recoveries > 0, 'the checkpoint job to be started again');
      await checkpointed(checkpointer, 'second');
      await transport.send(message('c@example.org'));
      await sink.nthTo('c@example.org', 1);
      // One thread died; one replacement hosts both jobs.
      expect(lines()).toEqual(['start', 'exit', 'start']);
    } finally {
      transport.close();
      await checkpointer.stop();
    }
  });
});
