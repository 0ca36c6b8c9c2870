import { performance } from 'node:perf_hooks';
import { StoreUnavailable } from '../model';

/**
 * How long a write that failed (no room, an I/O error, a write lock held
 * past the busy timeout) keeps `/ready` at 503 when nothing clears it since:
 * long enough for a load balancer to notice, short enough that a server
 * taken out of rotation (so sent nothing to write) is tried again soon after.
 */
export const WRITE_FAILURE_HOLD_MS = 30_000;

/**
 * Whether the database could write lately. A read (`SELECT 1`) still
 * succeeds on a full disk, and a statement or commit that changed no row
 * proves nothing (it may need no new page); so readiness follows the writes
 * themselves: the last one that failed for a full disk, an I/O error or a
 * write lock held past the busy timeout, until rows are written again (or,
 * for the lock, it is taken), or {@link WRITE_FAILURE_HOLD_MS} pass.
 */
export class WriteHealth {
  private failure: { reason: 'full' | 'busy'; detail: string; at: number } | undefined;

  constructor(private readonly monotonicNow: () => number = () => performance.now()) {}

  /** A statement, or a committed transaction, changed rows: the database has room and the lock. */
  wrote(): void {
    this.failure = undefined;
  }

  /** The write lock was taken: whoever held it let go (it says nothing of room). */
  lockTaken(): void {
    if (this.failure?.reason === 'busy') this.failure = undefined;
  }

  /** Records `err` when it is a failure to write (no room, the lock held too long); other errors say nothing of that. */
  failed(err: unknown): void {
    if (!(err instanceof StoreUnavailable) || (err.reason !== 'full' && err.reason !== 'busy')) return;
    // A full disk is the worse news: a later busy lock does not hide it.
    if (err.reason === 'busy' && this.failure?.reason === 'full') return void (this.failure.at = this.monotonicNow());
    this.failure = { reason: err.reason, detail: err.detail, at: this.monotonicNow() };
  }

  /** Why the database cannot write, or undefined when nothing says so. */
  problem(): string | undefined {
    if (!this.failure) return undefined;
    if (this.monotonicNow() - this.failure.at > WRITE_FAILURE_HOLD_MS) this.failure = undefined;
    return this.failure?.detail;
  }
}
