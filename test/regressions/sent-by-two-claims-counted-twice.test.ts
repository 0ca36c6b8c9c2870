// Regression: a message sent by two claims was never counted as sent twice.
// Claim A's lease ran out, claim B took the message and sent it too; A's
// "sent" was recorded without its lease but left B's token on the row, so
// B's own "sent" then found the message sent under its token and counted as
// the normal case. threepid_outbox_lost_leases_total said `sent_recorded`
// for a double send. Now the claim that recovers the row takes it, and the
// other claim's write is reported as finished by another (`sent_twice`).
import type { Store } from '../../src/store/store';
import { eventually } from '../support/e2e-utils';
import { storeForEachTest } from '../support/test-store';

const opened = storeForEachTest('threepid-sent-twice-');
let store: Store;
beforeEach(() => ({ store } = opened));

/** Claims A (whose lease ends at once) and then B each take message m1, as when A's send outlives its lease. */
async function claimedTwice(): Promise<void> {
  const now = Date.now();
  await store.outbox.enqueue({ id: 'm1', channel: 'email', payload: { to: 'a@example.org' }, now });
  const [a] = await store.outbox.claimDue({ channel: 'email', now, limit: 1, leaseMs: 1, token: 'A' });
  expect(a?.id).toBe('m1');
  const b = await eventually(
    async () => (await store.outbox.claimDue({ channel: 'email', now, limit: 1, leaseMs: 60_000, token: 'B' }))[0],
    "A's lease to run out and B to claim the message",
  );
  expect(b.id).toBe('m1');
}

it('counts the second of two claims that sent a message as sent twice, when the one whose lease ran out writes first', async () => {
  await claimedTwice();
  const byA = await store.outbox.markSent([{ id: 'm1', token: 'A' }], Date.now());
  const byB = await store.outbox.markSent([{ id: 'm1', token: 'B' }], Date.now());
  expect(byA).toEqual({ held: [], withoutLease: ['m1'], alreadyFinished: [] });
  expect(byB).toEqual({ held: [], withoutLease: [], alreadyFinished: ['m1'] });
});

it('still counts a repeated write of the recovering claim as its own', async () => {
  await claimedTwice();
  await store.outbox.markSent([{ id: 'm1', token: 'A' }], Date.now());
  // An earlier try of the same write committed, unanswered.
  expect(await store.outbox.markSent([{ id: 'm1', token: 'A' }], Date.now())).toEqual({ held: ['m1'], withoutLease: [], alreadyFinished: [] });
});

it('counts the one whose lease ran out as sent twice, when the claim holding the message writes first', async () => {
  await claimedTwice();
  const byB = await store.outbox.markSent([{ id: 'm1', token: 'B' }], Date.now());
  const byA = await store.outbox.markSent([{ id: 'm1', token: 'A' }], Date.now());
  expect(byB).toEqual({ held: ['m1'], withoutLease: [], alreadyFinished: [] });
  expect(byA).toEqual({ held: [], withoutLease: [], alreadyFinished: ['m1'] });
});
