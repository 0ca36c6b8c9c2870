/**
 * Entry file of the WAL checkpoint thread (see `store/wal-checkpointer.ts`).
 * Shipped as `dist/threads/wal-checkpoint.js`. It opens its own connection
 * to the file and runs a PASSIVE checkpoint on a timer: it never blocks the
 * writer, and the fsync a checkpoint ends with happens on this thread.
 *
 * While nothing is written it does nothing: `data_version` tells whether
 * another connection committed since the last complete checkpoint, and only
 * a checkpoint that changed something is reported to the host's thread, so
 * an idle module never wakes the host's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

interface ThreadData {
  readonly driver: string;
  readonly file: string;
  readonly intervalMs: number;
}

function run(port: NonNullable<typeof parentPort>, data: ThreadData): void {
  // The host's own copy of the driver (a bundled host keeps it external).
  const Database = require(data.driver) as typeof BetterSqlite3;
  const db = new Database(data.file);
  db.pragma('busy_timeout = 5000');
  let doneAtVersion = -1;
  let reported = '';
  const end = () => {
    clearInterval(timer);
    db.close();
    port.close();
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
      port.postMessage({ type: 'checkpoint', log: result.log, checkpointed: result.checkpointed });
    } catch (err) {
      // A driver error loses its message on the way out of a thread: say
      // why here (SQLITE_FULL on a full disk), and end; the host restarts it.
      const { code, message } = err as { code?: string; message?: string };
      port.postMessage({ type: 'died', reason: code ? `${code}: ${message}` : String(message ?? err) });
      end();
    }
  }, data.intervalMs);
  port.on('message', (message: unknown) => {
    if (message === 'stop') end();
  });
}

if (parentPort) run(parentPort, workerData as ThreadData);
