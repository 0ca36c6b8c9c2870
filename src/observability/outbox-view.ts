import type { Clock } from '../sources';
import type { Store } from '../store/store';
import type { OutboxView } from '../http/internal-router';

const HOUR_MS = 60 * 60_000;

/**
 * The outbox as `GET /_threepid/v1/outbox/stats` shows it: read from the
 * database on each call, so every replica answers for the shared queue.
 */
export function outboxViewOf(store: Store, clock: Clock): () => Promise<OutboxView> {
  return async () => {
    const now = clock.now();
    const [stats, failedLastHour] = await Promise.all([store.outbox.pendingStats(), store.outbox.countFailedSince(now - HOUR_MS)]);
    const oldest = stats.oldestPendingCreatedAt;
    return { pending: stats.pending, oldestPendingAgeMs: oldest === null ? null : Math.max(0, now - oldest), failedLastHour };
  };
}
