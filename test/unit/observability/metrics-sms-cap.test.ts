import type { Kysely } from 'kysely';
import { Keyring } from '../../../src/keyring';
import { Metrics } from '../../../src/observability/metrics';
import { openSqliteDatabase } from '../../../src/store/database';
import { AesGcmSealer } from '../../../src/store/sealing';
import type { Database } from '../../../src/store/schema';
import { Store } from '../../../src/store/store';
import { FakeClock } from '../../support/harness';

const HOUR = 60 * 60 * 1000;

/** The SMS daily cap's gauges, so an alert sees the cap coming: read from the outbox at each scrape. */
describe('threepid_sms_sent_last_24h and threepid_sms_daily_limit', () => {
  let db: Kysely<Database>;
  let store: Store;
  const clock = new FakeClock();
  beforeAll(async () => {
    db = await openSqliteDatabase(':memory:');
    store = new Store(db, 'sqlite', new AesGcmSealer(Keyring.ephemeral()));
  });
  afterAll(() => db.destroy());

  const gauges = async (metrics: Metrics) =>
    (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('threepid_sms_'));

  it('count the texts the cap counts: the last 24 hours, SMS only, decoys left out', async () => {
    const metrics = new Metrics(store, clock, false, {}, 500);
    const now = clock.now();
    await store.outbox.enqueue({ id: 'day-old', channel: 'sms', payload: {}, now: now - 25 * HOUR });
    await store.outbox.enqueue({ id: 'morning', channel: 'sms', payload: {}, now: now - 5 * HOUR });
    await store.outbox.enqueue({ id: 'just-now', channel: 'sms', payload: {}, now });
    await store.outbox.enqueue({ id: 'decoy', channel: 'sms', payload: {}, now, decoy: true });
    await store.outbox.enqueue({ id: 'mail', channel: 'email', payload: {}, now });
    expect(await gauges(metrics)).toEqual(['threepid_sms_daily_limit 500', 'threepid_sms_sent_last_24h 2']);
    clock.advance(20 * HOUR);
    expect(await gauges(metrics)).toEqual(['threepid_sms_daily_limit 500', 'threepid_sms_sent_last_24h 1']);
  });

  it('are absent when SMS is disabled', async () => {
    expect(await gauges(new Metrics(store, clock, false))).toEqual([]);
  });
});
