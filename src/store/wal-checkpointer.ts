import { Worker } from 'node:worker_threads';
import { threadEntryFile } from '../package-files';
import type BetterSqlite3 from 'better-sqlite3';

/** How often the background thread copies the write-ahead log into the database. */
export const CHECKPOINT_INTERVAL_MS = 100;
/** After a checkpoint resets the log, its file is cut back to this size. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** How long stopping waits for the thread to let go of the file before ending it. */
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
  private readonly exited: Promise<void>;

  constructor(
    private readonly connection: BetterSqlite3.Database,
    file: string,
    options: { intervalMs?: number; onFallback?: (reason: string) => void; entry?: string } = {},
  ) {
    this.onFallback = options.onFallback;
    // The thread's own file (`dist/threads/wal-checkpoint.js`), never this
    // module's: in a bundled host that would be the host's bundle.
    const entry = options.entry ?? threadEntryFile('wal-checkpoint');
    if (!entry) throw new Error('the checkpoint thread\'s file (dist/threads/wal-checkpoint.js) is missing');
    this.worker = new Worker(entry, {
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file,
        intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS,
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
    this.exited = new Promise((resolve) =>
      this.worker.on('exit', (code) => {
        if (!this.stopped) this.fallBack(`exited (${code})`);
        resolve();
      }),
    );
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
   * Closes the thread's connection; resolves once it has (or, after 5 s, once
   * the thread was ended), without blocking the event loop meanwhile. When
   * the writer's own close comes after it, the writer is the last
   * connection: it runs the final checkpoint and removes the log, and no
   * file of the database is touched once it has returned.
   */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      if (!this.failed) this.worker.postMessage('stop');
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), STOP_TIMEOUT_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
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
