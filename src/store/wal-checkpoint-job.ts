/**
 * The WAL checkpoint job, run on the module's background thread (see
 * `store/wal-checkpointer.ts`). It opens its own connection to the file and
 * runs a PASSIVE checkpoint on a timer: it never blocks the writer, and the
 * fsync a checkpoint ends with happens on that thread.
 *
 * While nothing is written it does nothing: `data_version` tells whether
 * another connection committed since the last complete checkpoint, and only
 * a checkpoint that changed something is reported to the host's thread, so
 * an idle module never wakes the host's event loop.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { JobPort } from '../background-thread';

export interface CheckpointJobData {
  readonly driver: string;
  readonly file: string;
  readonly intervalMs: number;
}

/** Says why it failed (a driver error loses its message on the way out of a thread), and ends; the host starts it again. */
function failed(port: JobPort, err: unknown): void {
  const { code, message } = err as { code?: string; message?: string };
  port.post({ type: 'died', reason: code ? `${code}: ${message}` : String(message ?? err) });
  port.end();
}

export function runCheckpointJob(port: JobPort, data: unknown): void {
  const { driver, file, intervalMs } = data as CheckpointJobData;
  let db: BetterSqlite3.Database;
  try {
    // The host's own copy of the driver (a bundled host keeps it external).
    const Database = require(driver) as typeof BetterSqlite3;
    db = new Database(file);
    db.pragma('busy_timeout = 5000');
  } catch (err) {
    failed(port, err);
    return;
  }
  let doneAtVersion = -1;
  let reported = '';
  const end = (err?: unknown) => {
    clearInterval(timer);
    db.close();
    if (err === undefined) port.end();
    else failed(port, err);
  };
  const timer = setInterval(() => {
    try {
      const version = db.pragma('data_version', { simple: true }) as number;
      if (version === doneAtVersion) return;
      const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      if (result.busy === 0 && result.checkpointed === result.log) doneAtVersion = version;
      const now = `${result.log}/${result.checkpointed}`;
      if (now === reported) return;
      reported = now;
      port.post({ type: 'checkpoint', log: result.log, checkpointed: result.checkpointed });
    } catch (err) {
      // SQLITE_FULL on a full disk: the job ends, the thread (and SMTP on it) lives on.
      end(err);
    }
  }, intervalMs);
  port.onMessage((message) => {
    if (message.type === 'stop') end();
  });
}
