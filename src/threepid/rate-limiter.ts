import type { Clock } from './tokens';
import { ThreepidError } from './errors';

/** Synapse's `rc_*` shape: a bucket refilled at `perSecond`, holding `burstCount`. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burstCount: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** How many keys are kept before full buckets are swept. */
const SWEEP_THRESHOLD = 10_000;

/**
 * Token buckets keyed by strings (an IP, an address). In memory: each process
 * limits what passes through it.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  /**
   * Takes one token from `key`'s bucket, or throws `M_LIMIT_EXCEEDED` with
   * the wait in `retry_after_ms` when the bucket is empty.
   */
  take(key: string): void {
    const now = this.clock.now();
    const bucket = this.refill(key, now);
    if (bucket.tokens < 1) {
      const retryAfterMs = Math.ceil(((1 - bucket.tokens) / this.limit.perSecond) * 1000);
      throw new ThreepidError('M_LIMIT_EXCEEDED', 'Too many requests', { retry_after_ms: retryAfterMs });
    }
    bucket.tokens -= 1;
    if (this.buckets.size > SWEEP_THRESHOLD) this.sweep(now);
  }

  private refill(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.limit.burstCount, updatedAt: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(this.limit.burstCount, bucket.tokens + elapsed * this.limit.perSecond);
    bucket.updatedAt = now;
    return bucket;
  }

  /** Forgets keys whose buckets have refilled: they behave as new ones. */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
      if (bucket.tokens + elapsed * this.limit.perSecond >= this.limit.burstCount) this.buckets.delete(key);
    }
  }
}
