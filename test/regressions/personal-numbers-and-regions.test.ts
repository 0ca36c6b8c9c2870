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
import { queryDb } from '../support/e2e-utils';
import { post, type Running } from '../support/harness';
import { expectEachDenied, expectEachTexted, smsModuleForEachTest, type NumberCase } from '../support/sms-module';
import { expectMatrixError } from '../support/spec';

const CLIENT = '/_matrix/client/v3/register/msisdn/requestToken';

/** [what, country dialled from, number, E.164 with +]; typed PERSONAL_NUMBER by libphonenumber-js's full metadata. */
const PERSONAL: NumberCase[] = [
  ['UK personal (070…)', 'GB', '07010 123456', '+447010123456'],
  ['German personal (0700…)', 'DE', '0700 12345678', '+4970012345678'],
  ['US personal (500)', 'US', '(500) 234-5678', '+15002345678'],
  ['US personal (533)', 'US', '(533) 234-5678', '+15332345678'],
];
/** Ordinary-rate number types real users have. */
const ORDINARY_RATE: NumberCase[] = [
  ['UK UAN (0300…)', 'GB', '0300 123 4567', '+443001234567'],
  ['French VoIP (09…)', 'FR', '09 12 34 56 78', '+33912345678'],
];
/** Numbers under +44 that are not of the region GB. */
const CROWN_DEPENDENCIES: NumberCase[] = [
  ['Isle of Man mobile (IM)', 'GB', '07624 123456', '+447624123456'],
  ['Guernsey fixed line (GG)', 'GB', '01481 256789', '+441481256789'],
];

describe('personal numbers are costly numbers; country lists go by region', () => {
  const sms = smsModuleForEachTest();

  const ask = (running: Running, country: string, phone: string, secret: string) =>
    post(running.url + CLIENT, { client_secret: secret, country, phone_number: phone, send_attempt: 1 });

  it('refuses personal numbers by default and texts UAN and VoIP numbers', async () => {
    const running = await sms.start();
    await expectEachDenied(PERSONAL, (country, phone) => ask(running, country, phone, 'personal'));
    expect(await queryDb(sms.database, 'SELECT id FROM threepid_outbox')).toHaveLength(0);
    await expectEachTexted(ORDINARY_RATE, (country, phone) => ask(running, country, phone, 'ordinary'), sms.gateway);
    expect(sms.gateway.messages.map((m) => m.to).sort()).toEqual(ORDINARY_RATE.map(([, , , e164]) => e164).sort());
  });

  it('texts personal numbers with sms.allow_premium_rate', async () => {
    const running = await sms.start({ allow_premium_rate: true });
    await expectEachTexted(PERSONAL, (country, phone) => ask(running, country, phone, 'allowed'), sms.gateway);
  });

  it('a denied GB does not cover +44 numbers of the Isle of Man or Guernsey; naming them does', async () => {
    let running = await sms.start({ denied_countries: ['GB'] });
    expectMatrixError((await ask(running, 'GB', '07400 123456', 'gb')).body, 'M_THREEPID_DENIED');
    await expectEachTexted(CROWN_DEPENDENCIES, (country, phone) => ask(running, country, phone, 'crown'), sms.gateway);
    await sms.stop();

    running = await sms.start({ denied_countries: ['GB', 'IM', 'GG'] });
    await expectEachDenied(CROWN_DEPENDENCIES, (country, phone) => ask(running, country, phone, 'named'));
  });
});
