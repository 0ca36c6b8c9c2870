import type { BucketCounters } from './ports';
import type { Clock, MonotonicClock } from '../sources';
import { ThreepidError } from './errors';
import { RecencyMap } from './recency-map';

/** Synapse's `rc_*` shape: a bucket refilled at `perSecond`, holding `burstCount`. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burstCount: number;
}

/** Takes one token for `key`, or throws `M_LIMIT_EXCEEDED` with `retry_after_ms`. */
export interface Limiter {
  take(key: string): void | Promise<void>;
  /**
   * Throws what {@link take} would throw now, without spending a token: an
   * empty bucket is refused before the request's work is done, while a
   * request that is then refused for another reason has spent nothing.
   */
  check?(key: string): void | Promise<void>;
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

/**
 * Refusals come in floods, from clients over their limit: each is built
 * without a stack trace (tens of microseconds of a refusal's cost, read by
 * nobody: the answer never carries one).
 */
function refusal(retryAfterMs: number): ThreepidError {
  const depth = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ThreepidError('M_LIMIT_EXCEEDED', 'Too many requests', { retry_after_ms: retryAfterMs });
  } finally {
    Error.stackTraceLimit = depth;
  }
}

/**
 * The most buckets one rule keeps in memory. One costs about 290 bytes
 * keyed by an IP, up to 510 by a 254-character address (the recency list's
 * links included): 29 to 51 MB per rule.
 */
export const MEMORY_BUCKET_CEILING = 100_000;

/** Least recently touched buckets looked at per take, to forget those that are full again. */
const SWEEP_PER_TAKE = 2;

/**
 * Token buckets keyed by strings (an IP, an address), in memory: each
 * process limits what passes through it. The default with SQLite.
 *
 * A bounded LRU. Buckets that are full again are forgotten, a couple per
 * take, as they are then the same as no bucket. At the ceiling, a key
 * without a bucket evicts the least recently used one even if it is still
 * refilling. Every bucket of a rule has the same rate and burst, so that one
 * has had the longest to refill: its owner gains at most the few tokens it
 * had not yet regained, and only after someone paid for the ceiling's worth
 * of other keys' requests since. Refusing newcomers instead would let one
 * IPv6 /48 (65,536 /64 keys, each with its own burst) lock every new client
 * out for a whole refill, again and again.
 */
export class RateLimiter implements Limiter {
  private readonly buckets = new RecencyMap<Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: MonotonicClock,
  ) {}

  take(key: string): void {
    const now = this.clock.monotonicNow();
    this.forgetRefilled(now);
    const current = this.buckets.get(key);
    if (current === undefined && this.buckets.size >= MEMORY_BUCKET_CEILING) this.evictLeastRecentlyUsed();
    const { next, retryAfterMs } = spendToken(current, this.limit, now);
    this.buckets.set(key, next);
    if (retryAfterMs !== undefined) throw refusal(retryAfterMs);
  }

  /** Touches nothing, not even the bucket's place in the recency list. */
  check(key: string): void {
    const { retryAfterMs } = spendToken(this.buckets.get(key), this.limit, this.clock.monotonicNow());
    if (retryAfterMs !== undefined) throw refusal(retryAfterMs);
  }

  /**
   * Forgets the least recently touched buckets while they are full, a few
   * per take: a take adds one bucket at most, so they never pile up. Every
   * bucket is full `burst_count / per_second` after its last touch, so one
   * still refilling at the front holds back only buckets touched since.
   */
  private forgetRefilled(now: number): void {
    for (let swept = 0; swept < SWEEP_PER_TAKE; swept++) {
      const oldest = this.buckets.leastRecent();
      if (oldest === undefined || this.millisUntilFull(oldest.value, now) > 0) return;
      this.buckets.delete(oldest.key);
    }
  }

  private evictLeastRecentlyUsed(): void {
    const oldest = this.buckets.leastRecent();
    if (oldest !== undefined) this.buckets.delete(oldest.key);
  }

  private millisUntilFull(bucket: Bucket, now: number): number {
    const elapsedMs = Math.max(0, now - bucket.updatedAt);
    return ((this.limit.burstCount - bucket.tokens) / this.limit.perSecond) * 1000 - elapsedMs;
  }
}

/**
 * Token buckets in the database, shared by every replica: the default with
 * PostgreSQL. `namespace` keeps the limits of different rules apart. The
 * store times refills (the database's clock, which replicas share); `clock`
 * serves a store that one process owns alone.
 */
export class DatabaseRateLimiter implements Limiter {
  constructor(
    private readonly store: BucketCounters,
    private readonly namespace: string,
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  async take(key: string): Promise<void> {
    const retryAfterMs = await this.store.update(`${this.namespace}:${key}`, this.clock.now(), (current, now) => {
      const { next, retryAfterMs: wait } = spendToken(current, this.limit, now);
      return { next, result: wait };
    });
    if (retryAfterMs !== undefined) throw refusal(retryAfterMs);
  }

  /**
   * A read alone: no lock, no write, so that the check every requestToken
   * makes before its work costs one statement. A parallel request may spend
   * the last token meanwhile; {@link take} then refuses it.
   */
  async check(key: string): Promise<void> {
    const { current, now } = await this.store.peek(`${this.namespace}:${key}`, this.clock.now());
    const { retryAfterMs } = spendToken(current, this.limit, now);
    if (retryAfterMs !== undefined) throw refusal(retryAfterMs);
  }
}

/** Makes the limiter for one rule: in memory, or in the shared database. */
export type LimiterFactory = (namespace: string, limit: RateLimit) => Limiter;
