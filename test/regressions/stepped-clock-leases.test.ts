// Regression: outbox leases were written and compared in each process's wall
// clock. A replica whose clock was stepped forward took the messages another
// replica was sending (their leases looked long over), and one whose clock
// was behind wrote leases that were already over for everyone else: either
// way, a message was sent twice. Leases are now in the database's clock.
import type { Kysely } from 'kysely';
import { OutboxWorker, type LostLease } from '../../src/delivery/outbox-worker';
import type { Database } from '../../src/store/schema';
import type { Store } from '../../src/store/store';
import { eventually } from '../support/e2e-utils';
import { CapturingLogger, FakeClock } from '../support/harness';
import { SeededRandom } from '../support/seeded-random';
import { storeForEachTest } from '../support/test-store';

const YEAR_MS = 365 * 24 * 3_600_000;

/** A sender that records what it is given and holds each send until `open()`. */
function heldSender() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const received: unknown[] = [];
  return {
    received,
    open,
    send: async (payload: unknown) => {
      received.push(payload);
      await gate;
    },
  };
}

describe('outbox leases when one replica’s clock is stepped', () => {
  const opened = storeForEachTest('threepid-stepped-');
  let db: Kysely<Database>;
  let store: Store;
  beforeEach(() => ({ db, store } = opened));

  function replica(clock: FakeClock, sender: ReturnType<typeof heldSender>, seed: number, lost: LostLease[]) {
    return new OutboxWorker({
      store,
      senders: { email: sender.send },
      clock,
      random: new SeededRandom(seed),
      logger: new CapturingLogger(),
      maxAttempts: { email: 5, sms: 5 },
      leaseMs: 60_000,
      sendTimeoutMs: 30_000,
      onLeaseLost: (what) => lost.push(what),
    });
  }

  it.each([
    ['a replica whose clock is a year ahead does not take a message another is sending', 0, YEAR_MS],
    ['a replica whose clock is a year behind keeps the lease on the message it is sending', -YEAR_MS, 0],
  ])('%s', async (_name, holderStep, otherStep) => {
    const now = Date.now();
    const holderClock = new FakeClock(now + holderStep);
    const otherClock = new FakeClock(now + otherStep);
    // Due for both replicas.
    await store.outbox.enqueue({ id: 'm1', channel: 'email', payload: { to: 'a@example.org' }, now: Math.min(now + holderStep, now + otherStep) });
    const lost: LostLease[] = [];
    const holding = heldSender();
    const holder = replica(holderClock, holding, 1, lost);
    holder.start();
    await eventually(() => holding.received.length === 1, 'the holder to be sending');

    const other = heldSender();
    other.open();
    const thief = replica(otherClock, other, 2, lost);
    thief.start();
    await thief.stop();
    expect(other.received).toEqual([]);

    holding.open();
    await holder.stop();
    const row = await db.selectFrom('threepid_outbox').select(['status']).where('id', '=', 'm1').executeTakeFirstOrThrow();
    expect(row.status).toBe('sent');
    expect(lost).toEqual([]);
  });
});
