import type { BucketCounters } from './ports';
import type { Clock } from '../sources';
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

/** How many keys are kept before full buckets are swept. */
const SWEEP_THRESHOLD = 10_000;

/**
 * Token buckets keyed by strings (an IP, an address), in memory: each
 * process limits what passes through it. The default with SQLite.
 */
export class RateLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  take(key: string): void {
    const now = this.clock.now();
    const { next, retryAfterMs } = spendToken(this.buckets.get(key), this.limit, now);
    this.buckets.set(key, next);
    if (retryAfterMs !== undefined) throw refusal(retryAfterMs);
    if (this.buckets.size > SWEEP_THRESHOLD) this.sweep(now);
  }

  /** Forgets keys whose buckets have refilled: they behave as new ones. */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
      if (bucket.tokens + elapsed * this.limit.perSecond >= this.limit.burstCount) this.buckets.delete(key);
    }
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
