import type { Logger } from './logger';
import type { Clock } from './sources';
import type { Store } from './store/store';

/** How often expired sessions and old outbox rows are purged. */
const PURGE_INTERVAL_MS = 3_600_000;
/** Sent and failed outbox rows are kept this long (without payload) for inspection. */
const OUTBOX_RETENTION_MS = 7 * 86_400_000;
/** Rate-limit buckets untouched this long are full again: their rows can go. */
const IDLE_BUCKET_MS = 86_400_000;

export interface PurgeJob {
  stop(): void;
}

/**
 * Deletes, now and then every hour: sessions past their grace period
 * (`purgeExpiredSessions`, which also counts them in the metrics), finished
 * outbox rows older than a week, and idle rate-limit buckets. A failed round
 * is logged and the next one tries again.
 */
export async function startPurgeJob(parts: {
  purgeExpiredSessions: () => Promise<number>;
  store: Store;
  clock: Clock;
  logger: Logger;
}): Promise<PurgeJob> {
  const { store, clock, logger } = parts;
  const purge = async () => {
    try {
      const sessions = await parts.purgeExpiredSessions();
      const messages = await store.outbox.deleteFinishedBefore(clock.now() - OUTBOX_RETENTION_MS);
      await store.rateLimits.deleteIdleFor(IDLE_BUCKET_MS, clock.now());
      if (sessions + messages > 0) logger.info({ sessions, messages }, 'purged expired sessions and old messages');
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'purge failed');
    }
  };
  await purge();
  const timer = setInterval(() => void purge(), PURGE_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
