/**
 * Numbers of no country (+979 premium-rate, +881 and +882 satellite) passed
 * every country rule, since a denylist can only name countries, and were
 * texted; so were premium-rate and shared-cost numbers of any country.
 * Through the client route and the identity-service v1 route Synapse calls,
 * with a real SMS gateway: nothing is sent to any of them unless the
 * configuration says so.
 */
import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { expectMatrixError } from '../support/spec';

const CLIENT = '/_matrix/client/v3/register/msisdn/requestToken';
const V1 = '/_matrix/identity/api/v1/validate/msisdn/requestToken';

/** [what, country dialled from, number, E.164 with +]; each valid in libphonenumber-js's full metadata. */
const COSTLY: Array<[string, string, string, string]> = [
  ['premium-rate, no country (+979)', 'GB', '+979 1 2345 6789', '+979123456789'],
  ['satellite, no country (+881)', 'GB', '+881 6 1234 5678', '+881612345678'],
  ['international network, no country (+882)', 'GB', '+882 16 1234 5678', '+8821612345678'],
  ['UK premium-rate (09…)', 'GB', '0909 879 0000', '+449098790000'],
  ['French shared-cost (081…)', 'FR', '0810 12 34 56', '+33810123456'],
];
const NON_GEOGRAPHIC = COSTLY.slice(0, 3);
const PREMIUM = COSTLY.slice(3);
/** An ordinary mobile number, sent after the refused ones: once its text arrives, theirs would have too. */
const ORDINARY = { country: 'FR', phone_number: '06 12 34 56 78' };

describe('numbers of no country, and premium-rate ones, are not texted', () => {
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

  const routes: Array<[string, (running: Running) => string]> = [
    ['the client route', (running) => running.url + CLIENT],
    ['the identity-service v1 route', (running) => running.internalUrl + V1],
  ];

  describe.each(routes)('%s', (_route, urlOf) => {
    const ask = (running: Running, country: string, phone: string, secret: string) =>
      post(urlOf(running), { client_secret: secret, country, phone_number: phone, send_attempt: 1 });

    it('refuses them with 403 M_THREEPID_DENIED by default, whatever the denylist names', async () => {
      const running = await start({ denied_countries: ['KP'] });
      for (const [what, country, phone] of COSTLY) {
        const refused = await ask(running, country, phone, 'costly');
        expect([what, refused.status]).toEqual([what, 403]);
        expectMatrixError(refused.body, 'M_THREEPID_DENIED');
      }
      const database = path.join(dir, `threepid-${starts}.sqlite`);
      expect(await queryDb(database, 'SELECT id FROM threepid_outbox')).toHaveLength(0);
      expect(await queryDb(database, 'SELECT sid FROM threepid_sessions')).toHaveLength(0);
      const ordinary = await ask(running, ORDINARY.country, ORDINARY.phone_number, 'ordinary');
      expect(ordinary.status).toBe(200);
      await gateway.codeTo('+33612345678');
      expect(gateway.messages.map((m) => m.to)).toEqual(['+33612345678']);
    });

    it('texts numbers of no country only with sms.allow_non_geographic, and premium-rate ones only with sms.allow_premium_rate', async () => {
      const [premiumNonGeographic, ...otherNonGeographic] = NON_GEOGRAPHIC;
      let running = await start({ allow_non_geographic: true });
      for (const [what, country, phone, e164] of otherNonGeographic) {
        expect([what, (await ask(running, country, phone, 'ng')).status]).toEqual([what, 200]);
        await gateway.codeTo(e164);
      }
      // +979 is premium-rate as well as of no country: it needs both settings.
      expectMatrixError((await ask(running, premiumNonGeographic[1], premiumNonGeographic[2], 'ng')).body, 'M_THREEPID_DENIED');
      await running.close();
      hs = undefined;

      running = await start({ allow_premium_rate: true });
      for (const [what, country, phone, e164] of PREMIUM) {
        expect([what, (await ask(running, country, phone, 'pr')).status]).toEqual([what, 200]);
        await gateway.codeTo(e164);
      }
      expectMatrixError((await ask(running, premiumNonGeographic[1], premiumNonGeographic[2], 'pr')).body, 'M_THREEPID_DENIED');
      await running.close();
      hs = undefined;

      running = await start({ allow_non_geographic: true, allow_premium_rate: true });
      expect((await ask(running, premiumNonGeographic[1], premiumNonGeographic[2], 'both')).status).toBe(200);
      await gateway.codeTo(premiumNonGeographic[3]);
    });
  });
});
