/**
 * Numbers of no country (+979 premium-rate, +881 and +882 satellite) passed
 * every country rule, since a denylist can only name countries, and were
 * texted; so were premium-rate and shared-cost numbers of any country.
 * Through the client route and the identity-service v1 route Synapse calls,
 * with a real SMS gateway: nothing is sent to any of them unless the
 * configuration says so.
 */
import { queryDb } from '../support/e2e-utils';
import { post, type Running } from '../support/harness';
import { expectEachDenied, expectEachTexted, smsModuleForEachTest, type NumberCase } from '../support/sms-module';
import { expectMatrixError } from '../support/spec';

const CLIENT = '/_matrix/client/v3/register/msisdn/requestToken';
const V1 = '/_matrix/identity/api/v1/validate/msisdn/requestToken';

/** [what, country dialled from, number, E.164 with +]; each valid in libphonenumber-js's full metadata. */
const COSTLY: NumberCase[] = [
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
  const sms = smsModuleForEachTest();

  const routes: Array<[string, (running: Running) => string]> = [
    ['the client route', (running) => running.url + CLIENT],
    ['the identity-service v1 route', (running) => running.internalUrl + V1],
  ];

  describe.each(routes)('%s', (_route, urlOf) => {
    const ask = (running: Running, country: string, phone: string, secret: string) =>
      post(urlOf(running), { client_secret: secret, country, phone_number: phone, send_attempt: 1 });

    it('refuses them with 403 M_THREEPID_DENIED by default, whatever the denylist names', async () => {
      const running = await sms.start({ denied_countries: ['KP'] });
      await expectEachDenied(COSTLY, (country, phone) => ask(running, country, phone, 'costly'));
      expect(await queryDb(sms.database, 'SELECT id FROM threepid_outbox')).toHaveLength(0);
      expect(await queryDb(sms.database, 'SELECT sid FROM threepid_sessions')).toHaveLength(0);
      const ordinary = await ask(running, ORDINARY.country, ORDINARY.phone_number, 'ordinary');
      expect(ordinary.status).toBe(200);
      await sms.gateway.codeTo('+33612345678');
      expect(sms.gateway.messages.map((m) => m.to)).toEqual(['+33612345678']);
    });

    it('texts numbers of no country only with sms.allow_non_geographic, and premium-rate ones only with sms.allow_premium_rate', async () => {
      const [premiumNonGeographic, ...otherNonGeographic] = NON_GEOGRAPHIC;
      let running = await sms.start({ allow_non_geographic: true });
      await expectEachTexted(otherNonGeographic, (country, phone) => ask(running, country, phone, 'ng'), sms.gateway);
      // +979 is premium-rate as well as of no country: it needs both settings.
      expectMatrixError((await ask(running, premiumNonGeographic[1], premiumNonGeographic[2], 'ng')).body, 'M_THREEPID_DENIED');
      await sms.stop();

      running = await sms.start({ allow_premium_rate: true });
      await expectEachTexted(PREMIUM, (country, phone) => ask(running, country, phone, 'pr'), sms.gateway);
      expectMatrixError((await ask(running, premiumNonGeographic[1], premiumNonGeographic[2], 'pr')).body, 'M_THREEPID_DENIED');
      await sms.stop();

      running = await sms.start({ allow_non_geographic: true, allow_premium_rate: true });
      expect((await ask(running, premiumNonGeographic[1], premiumNonGeographic[2], 'both')).status).toBe(200);
      await sms.gateway.codeTo(premiumNonGeographic[3]);
    });
  });
});
