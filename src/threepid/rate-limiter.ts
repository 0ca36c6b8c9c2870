import type { BucketCounters } from './ports';
import type { Clock, MonotonicClock } from '../sources';
import { ThreepidError } from './errors';

/** Synapse's `rc_*` shape: a bucket refilled at `perSecond`, holding `burstCount`. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burstCount: number;
}

/** Takes one token for `key`, or throws `M_LIMIT_EXCEEDED` with `retry_after_ms`. */
export interface Limiter {
  take(key: string): void | Promise<void>;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * The token-bucket step both limiters share: refill for the time elapsed,
 * then spend one token if there is one. A key never seen starts full.
 */
export function spendToken(bucket: Bucket | undefined, limit: RateLimit, now: number): { next: Bucket; retryAfterMs?: number } {
  const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) / 1000 : 0;
  const tokens = bucket ? Math.min(limit.burstCount, bucket.tokens + elapsed * limit.perSecond) : limit.burstCount;
  if (tokens < 1) {
    return { next: { tokens, updatedAt: now }, retryAfterMs: Math.ceil(((1 - tokens) / limit.perSecond) * 1000) };
  }
  return { next: { tokens: tokens - 1, updatedAt: now } };
}

function refusal(retryAfterMs: number): ThreepidError {
  return new ThreepidError('M_LIMIT_EXCEEDED', 'Too many requests', { retry_after_ms: retryAfterMs });
}

/**
 * The most buckets one rule keeps in memory. One costs 230 bytes keyed by
 * an IP, up to 450 by a 254-character address: 23 to 45 MB per rule.
 */
export const MEMORY_BUCKET_CEILING = 100_000;

/** Least recently touched buckets looked at per take, to forget those that are full again. */
const SWEEP_PER_TAKE = 2;

/**
 * Token buckets keyed by strings (an IP, an address), in memory: each
 * process limits what passes through it. The default with SQLite.
 *
 * A bucket is forgotten only once it is full again, when it is the same as
 * no bucket: forgetting one that is not would hand its key a fresh burst.
 * So when the ceiling's worth of buckets are all still refilling, a key without one is
 * refused until the oldest is full; nobody's limit is ever loosened.
 */
export class RateLimiter implements Limiter {
  /** In the order they were last touched, the least recent first. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: MonotonicClock,
  ) {}

  take(key: string): void {
    const now = this.clock.monotonicNow();
    this.forgetRefilled(now);
    const current = this.buckets.get(key);
    if (current === undefined && this.buckets.size >= MEMORY_BUCKET_CEILING) throw refusal(this.untilRoom(now));
    const { next, retryAfterMs } = spendToken(current, this.limit, now);
    // Set anew, the key moves to the end: the map stays in order of last touch.
    this.buckets.delete(key);
    this.buckets.set(key, next);
    if (retryAfterMs !== undefined) throw refusal(retryAfterMs);
  }

  /**
   * Forgets the least recently touched buckets while they are full, a few
   * per take: a take adds one bucket at most, so they never pile up. Every
   * bucket is full `burst_count / per_second` after its last touch, so one
   * still refilling at the front holds back only buckets touched since.
   */
  private forgetRefilled(now: number): void {
    let swept = 0;
    for (const [key, bucket] of this.buckets) {
      if (swept === SWEEP_PER_TAKE) return;
      if (this.millisUntilFull(bucket, now) > 0) return;
      this.buckets.delete(key);
      swept += 1;
    }
  }

  /** How long until the least recently touched bucket is full and can be forgotten. */
  private untilRoom(now: number): number {
    const oldest = this.buckets.values().next().value as Bucket;
    return Math.max(1, Math.ceil(this.millisUntilFull(oldest, now)));
  }

  private millisUntilFull(bucket: Bucket, now: number): number {
    const elapsedMs = Math.max(0, now - bucket.updatedAt);
    return ((this.limit.burstCount - bucket.tokens) / this.limit.perSecond) * 1000 - elapsedMs;
  }
}

/**
 * Token buckets in the database, shared by every replica: the default with
 * PostgreSQL. `namespace` keeps the limits of different rules apart.
 */
export class DatabaseRateLimiter implements Limiter {
  constructor(
    private readonly store: BucketCounters,
    private readonly namespace: string,
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  async take(key: string): Promise<void> {
    const now = this.clock.now();
    const retryAfterMs = await this.store.update(`${this.namespace}:${key}`, (current) => {
      const { next, retryAfterMs: wait } = spendToken(current, this.limit, now);
      return { next, result: wait };
    });
    if (retryAfterMs !== undefined) throw refusal(retryAfterMs);
  }
}

/** Makes the limiter for one rule: in memory, or in the shared database. */
export type LimiterFactory = (namespace: string, limit: RateLimit) => Limiter;
