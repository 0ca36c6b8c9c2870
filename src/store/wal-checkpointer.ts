import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

/** How often the background thread copies the write-ahead log into the database. */
export const CHECKPOINT_INTERVAL_MS = 100;
/** After a checkpoint resets the log, its file is cut back to this size. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * The thread's code. It is small, and given as source so that it runs the
 * same from `dist/` and under ts-jest (which has no `.js` file to point a
 * Worker at). It opens its own connection to the file and runs a PASSIVE
 * checkpoint on a timer: it never blocks the writer, and the fsync a
 * checkpoint ends with happens on this thread.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const closed = new Int32Array(workerData.closed);
// However the thread ends (stopped, or failed), whoever waits for it is released.
process.on('exit', () => {
  Atomics.store(closed, 0, 1);
  Atomics.notify(closed, 0);
});
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  const [result] = db.pragma('wal_checkpoint(PASSIVE)');
  parentPort.postMessage({ type: 'checkpoint', log: result.log, checkpointed: result.checkpointed });
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  Atomics.store(closed, 0, 1);
  Atomics.notify(closed, 0);
  parentPort.close();
});
`;

/** How long closing the database waits for the thread to let go of the file. */
const STOP_TIMEOUT_MS = 5_000;

/** What the last checkpoint found: frames in the log, and how many of them are in the database. */
export interface CheckpointResult {
  readonly log: number;
  readonly checkpointed: number;
}

/**
 * Takes WAL checkpoints off the thread that writes. SQLite otherwise runs a
 * checkpoint inside whichever commit crosses 1,000 log pages, and with
 * `synchronous = NORMAL` that checkpoint's fsync is the one slow part of a
 * commit: under load it blocked the event loop for about a third of every
 * requestToken's time.
 *
 * Should the thread fail, the connection goes back to SQLite's own
 * checkpoints, so the log never grows without bound.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped = false;
  private failed = false;
  private readonly onFallback: ((reason: string) => void) | undefined;
  private readonly listeners = new Set<(result: CheckpointResult) => void>();
  /** Set to 1 by the thread once its connection is closed. */
  private readonly closed = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    private readonly connection: BetterSqlite3.Database,
    file: string,
    options: { intervalMs?: number; onFallback?: (reason: string) => void } = {},
  ) {
    this.onFallback = options.onFallback;
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file,
        intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS,
        closed: this.closed.buffer,
      },
      // It allocates almost nothing: keep its heap (and the process's memory) small.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    // The thread never keeps the process alive on its own.
    this.worker.unref();
    this.worker.on('message', (message: { type: string } & CheckpointResult) => {
      if (message.type !== 'checkpoint') return;
      for (const listener of this.listeners) listener({ log: message.log, checkpointed: message.checkpointed });
    });
    this.worker.on('error', (err) => this.fallBack(err.message));
    this.worker.on('exit', (code) => {
      if (!this.stopped) this.fallBack(`exited (${code})`);
    });
    // Only once the thread exists does the writer stop checkpointing itself.
    connection.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    connection.pragma('wal_autocheckpoint = 0');
  }

  /** True once the thread has failed and SQLite checkpoints inline again. */
  get inline(): boolean {
    return this.failed;
  }

  /** Calls `listener` after each checkpoint (for tests and the operator's view). */
  onCheckpoint(listener: (result: CheckpointResult) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Closes the thread's connection, waiting (briefly, and only at shutdown)
   * until it has: the writer's own close, right after, is then the last one,
   * so it runs the final checkpoint and removes the log, and no file of the
   * database is touched once the writer's close has returned.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.failed) return;
    this.worker.postMessage('stop');
    Atomics.wait(this.closed, 0, 0, STOP_TIMEOUT_MS);
  }

  private fallBack(reason: string): void {
    if (this.failed || this.stopped) return;
    this.failed = true;
    try {
      this.connection.pragma('wal_autocheckpoint = 1000');
    } catch {
      // The connection is already closed: nothing left to protect.
    }
    this.onFallback?.(reason);
  }
}
