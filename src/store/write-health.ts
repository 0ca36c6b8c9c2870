import { performance } from 'node:perf_hooks';
import { StoreUnavailable } from '../model';

/**
 * How long a write that failed for want of room (or an I/O error) keeps
 * `/ready` at 503 when nothing is written since: long enough for a load
 * balancer to notice, short enough that a server taken out of rotation (so
 * sent nothing to write) is tried again soon after the space is back.
 */
export const WRITE_FAILURE_HOLD_MS = 30_000;

/**
 * Whether the database could write lately. A read (`SELECT 1`) still
 * succeeds on a full disk, and a test write that fits in a page already
 * allocated proves nothing; so readiness follows the writes themselves: the
 * last one that failed for a full disk or an I/O error, until a write
 * succeeds or {@link WRITE_FAILURE_HOLD_MS} pass.
 */
export class WriteHealth {
  private failure: { detail: string; at: number } | undefined;

  constructor(private readonly monotonicNow: () => number = () => performance.now()) {}

  /** A statement or commit that wrote succeeded. */
  succeeded(): void {
    this.failure = undefined;
  }

  /** Records `err` when it is a failure to write for want of room; other errors say nothing of that. */
  failed(err: unknown): void {
    if (err instanceof StoreUnavailable && err.reason === 'full') this.failure = { detail: err.detail, at: this.monotonicNow() };
  }

  /** Why the database cannot write, or undefined when nothing says so. */
  problem(): string | undefined {
    if (!this.failure) return undefined;
    if (this.monotonicNow() - this.failure.at > WRITE_FAILURE_HOLD_MS) this.failure = undefined;
    return this.failure?.detail;
  }
}
