import type { Kysely } from 'kysely';
import { Keyring } from '../../../src/keyring';
import { Metrics } from '../../../src/observability/metrics';
import { openSqliteDatabase } from '../../../src/store/database';
import { AesGcmSealer } from '../../../src/store/sealing';
import type { Database } from '../../../src/store/schema';
import { Store } from '../../../src/store/store';
import { FakeClock } from '../../support/harness';

describe('threepid_messages_total by provider', () => {
  let db: Kysely<Database>;
  beforeAll(async () => {
    db = await openSqliteDatabase(':memory:');
  });
  afterAll(() => db.destroy());

  const counted = async (providers: Record<string, string>) => {
    const metrics = new Metrics(new Store(db, 'sqlite', new AesGcmSealer(Keyring.ephemeral())), new FakeClock(), false, providers);
    metrics.messageQueued('sms');
    metrics.delivery('failed', 'sms');
    return (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('threepid_messages_total{'));
  };

  it.each(['smtp', 'file', 'log', 'http', 'twilio', 'sns', 'vonage', 'custom'])('names the provider %s', async (provider) => {
    expect(await counted({ email: 'smtp', sms: provider })).toEqual([
      `threepid_messages_total{channel="sms",provider="${provider}",outcome="queued"} 1`,
      `threepid_messages_total{channel="sms",provider="${provider}",outcome="failed"} 1`,
    ]);
  });

  it('counts any other name as "other": the set of series stays bounded', async () => {
    expect(await counted({ email: 'smtp', sms: 'a-gateway-added-later' })).toEqual([
      'threepid_messages_total{channel="sms",provider="other",outcome="queued"} 1',
      'threepid_messages_total{channel="sms",provider="other",outcome="failed"} 1',
    ]);
  });
});
