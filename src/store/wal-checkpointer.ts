import type BetterSqlite3 from 'better-sqlite3';
import { BackgroundThread, type Job } from '../background-thread';
import type { CheckpointJobData } from './wal-checkpoint-job';

/** How often the background thread copies the write-ahead log into the database. */
export const CHECKPOINT_INTERVAL_MS = 100;
/**
 * The first commit after a complete checkpoint cuts the log's file back to
 * this size, should a burst have made it larger: the size SQLite's own
 * checkpoints (every 1,000 pages) would keep it at, so the bound is the same
 * whether the thread or the writer checkpoints.
 */
export const WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;

/** How long stopping waits for the job to let go of the file before ending the thread. */
const STOP_TIMEOUT_MS = 5_000;
/** A thread that died is started again after this long, doubling each time it dies again before a checkpoint. */
const FIRST_RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 60_000;

/** What the last checkpoint found: frames in the log, and how many of them are in the database. */
export interface CheckpointResult {
  readonly log: number;
  readonly checkpointed: number;
}

export interface WalCheckpointerOptions {
  intervalMs?: number;
  /** The job or its thread died (why, and in how many ms it is started again); SQLite checkpoints inside commits meanwhile. */
  onFallback?: (reason: string, restartInMs: number) => void;
  /** A restarted job ran a checkpoint: commits no longer checkpoint themselves. */
  onRecovery?: () => void;
  /** The module's background thread, shared with SMTP; without it, one of its own. */
  thread?: BackgroundThread;
  /** The thread's entry file, for a thread of its own (tests). */
  entry?: string;
  /** The delay before the first restart (tests shorten it). */
  restartDelayMs?: number;
}

/**
 * Takes WAL checkpoints off the thread that writes. SQLite otherwise runs a
 * checkpoint inside whichever commit crosses 1,000 log pages, and with
 * `synchronous = NORMAL` that checkpoint's fsync is the one slow part of a
 * commit: under load it blocked the event loop for about a third of every
 * requestToken's time.
 *
 * The checkpoints are a job on the module's background thread (SMTP is
 * the other). Should the job die (a full disk fails its checkpoint), or
 * the thread, the connection goes back to SQLite's own checkpoints, so the
 * log never grows without bound, and the job is started again with a
 * growing delay; its first checkpoint hands checkpoints back to it.
 */
export class WalCheckpointer {
  private job: Job | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  private failed = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly firstRestartDelayMs: number;
  private restartDelayMs: number;
  private readonly listeners = new Set<(result: CheckpointResult) => void>();
  private readonly jobData: CheckpointJobData;
  private readonly thread: BackgroundThread;

  constructor(
    private readonly connection: BetterSqlite3.Database,
    file: string,
    private readonly options: WalCheckpointerOptions = {},
  ) {
    // The thread's own file (`dist/threads/background.js`), never this
    // module's: in a bundled host that would be the host's bundle.
    const thread = options.thread ?? BackgroundThread.create(options.entry);
    if (!thread) throw new Error('the background thread\'s file (dist/threads/background.js) is missing');
    this.thread = thread;
    this.jobData = { driver: require.resolve('better-sqlite3'), file, intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS };
    this.firstRestartDelayMs = this.restartDelayMs = options.restartDelayMs ?? FIRST_RESTART_DELAY_MS;
    this.startThread();
    // Only once the thread exists does the writer stop checkpointing itself.
    connection.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    connection.pragma('wal_autocheckpoint = 0');
  }

  /** True while the thread is dead and SQLite checkpoints inline. */
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
    const job = this.job;
    if (!this.stopped) {
      this.stopped = true;
      clearTimeout(this.restartTimer);
      job?.post({ type: 'stop' });
    }
    if (!job) return;
    // While running, the thread keeps no process alive; while stopping, it
    // must: a host with nothing else to wait for would otherwise exit
    // before this resolves, and a failed start would end with status 0.
    job.hold();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => void job.terminate().then(() => resolve()), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    job.release();
  }

  private startThread(): void {
    let reason: string | undefined;
    let job: Job | undefined;
    this.exited = new Promise((resolve) => {
      const over = (why: string) => {
        if (this.job === job) this.job = undefined;
        if (!this.stopped) this.died(reason ?? why);
        resolve();
      };
      job = this.thread.open('checkpoint', this.jobData, {
        message: (message) => {
          if (message.type === 'died') reason = String(message.reason);
          if (message.type !== 'checkpoint') return;
          this.recovered();
          const result = { log: Number(message.log), checkpointed: Number(message.checkpointed) };
          for (const listener of this.listeners) listener(result);
        },
        ended: () => over('ended'),
        lost: (why) => over(why),
      });
    });
    this.job = job;
  }

  private died(reason: string): void {
    if (!this.failed) {
      this.failed = true;
      this.setAutocheckpoint(1000);
    }
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    this.restartTimer = setTimeout(() => {
      if (!this.stopped) this.startThread();
    }, delay);
    this.restartTimer.unref();
    this.options.onFallback?.(reason, delay);
  }

  private recovered(): void {
    this.restartDelayMs = this.firstRestartDelayMs;
    if (!this.failed) return;
    this.failed = false;
    this.setAutocheckpoint(0);
    this.options.onRecovery?.();
  }

  private setAutocheckpoint(pages: number): void {
    try {
      this.connection.pragma(`wal_autocheckpoint = ${pages}`);
    } catch {
      // The connection is already closed: nothing left to protect.
    }
  }
}
