/**
 * Personal numbers (UK 070…, German 0700…, US 500/533) passed the default
 * SMS policy: they forward to any phone at a higher rate, and UK 070 is a
 * classic SMS-pumping target. They are now refused with the premium-rate
 * and shared-cost numbers unless `sms.allow_premium_rate: true`; UAN and
 * VoIP numbers, charged at ordinary rates, are still texted. And the
 * country lists go by the number's own region: `GB` does not cover the Isle
 * of Man (+44 7624, IM) or Guernsey (+44 1481, GG). With a real SMS gateway,
 * through the client route.
 */
import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { expectMatrixError } from '../support/spec';

const CLIENT = '/_matrix/client/v3/register/msisdn/requestToken';

/** [what, country dialled from, number, E.164 with +]; typed PERSONAL_NUMBER by libphonenumber-js's full metadata. */
const PERSONAL: Array<[string, string, string, string]> = [
  ['UK personal (070…)', 'GB', '07010 123456', '+447010123456'],
  ['German personal (0700…)', 'DE', '0700 12345678', '+4970012345678'],
  ['US personal (500)', 'US', '(500) 234-5678', '+15002345678'],
  ['US personal (533)', 'US', '(533) 234-5678', '+15332345678'],
];
/** Ordinary-rate number types real users have. */
const ORDINARY_RATE: Array<[string, string, string, string]> = [
  ['UK UAN (0300…)', 'GB', '0300 123 4567', '+443001234567'],
  ['French VoIP (09…)', 'FR', '09 12 34 56 78', '+33912345678'],
];
/** Numbers under +44 that are not of the region GB. */
const CROWN_DEPENDENCIES: Array<[string, string, string, string]> = [
  ['Isle of Man mobile (IM)', 'GB', '07624 123456', '+447624123456'],
  ['Guernsey fixed line (GG)', 'GB', '01481 256789', '+441481256789'],
];

describe('personal numbers are costly numbers; country lists go by region', () => {
  let gateway: SmsGateway;
  let dir: string;
  let hs: Running | undefined;
  let starts = 0;

  beforeEach(async () => {
    gateway = await startSmsGateway();
    dir = tempDir();
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await gateway.close();
    removeDir(dir);
  });

  async function start(sms: Record<string, unknown> = {}): Promise<Running> {
    starts += 1;
    hs = await startModule({
      database: { path: path.join(dir, `threepid-${starts}.sqlite`) },
      sms: { ...twilioSmsConfig(gateway.url), ...sms },
    } as RawConfig & { database: { path: string } });
    return hs;
  }

  const ask = (running: Running, country: string, phone: string, secret: string) =>
    post(running.url + CLIENT, { client_secret: secret, country, phone_number: phone, send_attempt: 1 });

  it('refuses personal numbers by default and texts UAN and VoIP numbers', async () => {
    const running = await start();
    for (const [what, country, phone] of PERSONAL) {
      const refused = await ask(running, country, phone, 'personal');
      expect([what, refused.status]).toEqual([what, 403]);
      expectMatrixError(refused.body, 'M_THREEPID_DENIED');
    }
    const database = path.join(dir, `threepid-${starts}.sqlite`);
    expect(await queryDb(database, 'SELECT id FROM threepid_outbox')).toHaveLength(0);
    for (const [what, country, phone, e164] of ORDINARY_RATE) {
      expect([what, (await ask(running, country, phone, 'ordinary')).status]).toEqual([what, 200]);
      await gateway.codeTo(e164);
    }
    expect(gateway.messages.map((m) => m.to).sort()).toEqual(ORDINARY_RATE.map(([, , , e164]) => e164).sort());
  });

  it('texts personal numbers with sms.allow_premium_rate', async () => {
    const running = await start({ allow_premium_rate: true });
    for (const [what, country, phone, e164] of PERSONAL) {
      expect([what, (await ask(running, country, phone, 'allowed')).status]).toEqual([what, 200]);
      await gateway.codeTo(e164);
    }
  });

  it('a denied GB does not cover +44 numbers of the Isle of Man or Guernsey; naming them does', async () => {
    let running = await start({ denied_countries: ['GB'] });
    expectMatrixError((await ask(running, 'GB', '07400 123456', 'gb')).body, 'M_THREEPID_DENIED');
    for (const [what, country, phone, e164] of CROWN_DEPENDENCIES) {
      expect([what, (await ask(running, country, phone, 'crown')).status]).toEqual([what, 200]);
      await gateway.codeTo(e164);
    }
    await running.close();
    hs = undefined;

    running = await start({ denied_countries: ['GB', 'IM', 'GG'] });
    for (const [what, country, phone] of CROWN_DEPENDENCIES) {
      const refused = await ask(running, country, phone, 'named');
      expect([what, refused.status]).toEqual([what, 403]);
      expectMatrixError(refused.body, 'M_THREEPID_DENIED');
    }
  });
});
