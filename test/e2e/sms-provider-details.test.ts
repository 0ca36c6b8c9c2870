import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { eventually } from '../support/e2e-utils';
import { FakeClock, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { snsSmsConfig, startSmsGateway, vonageSmsConfig, type SmsGateway } from '../support/sms-gateway';

const REGISTER = '/_matrix/client/v3/register/msisdn/requestToken';

describe('what each SMS provider is sent', () => {
  let gateway: SmsGateway;
  let dir: string;
  let hs: Running | undefined;
  let gatewayClock: FakeClock;
  let starts = 0;

  beforeEach(async () => {
    gatewayClock = new FakeClock(Date.now());
    gateway = await startSmsGateway({ now: () => gatewayClock.now() });
    dir = tempDir();
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await gateway.close();
    removeDir(dir);
  });

  const start = async (sms: Record<string, unknown>, appName: string, clock = new FakeClock(Date.now())) => {
    const raw = { database: { path: path.join(dir, `threepid-${(starts += 1)}.sqlite`) }, sms, email: { app_name: appName } } as RawConfig & { database: { path: string } };
    hs = await startModule(raw, { clock });
    return hs;
  };
  const requestToken = (running: Running, language: string) =>
    post(running.url + REGISTER, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 }, { 'accept-language': language });

  it.each([
    ['plain ASCII', 'en', 'Example Chat', undefined, /^\d{6} is your Example Chat verification code\./],
    ['German in GSM-7 (ä, ü)', 'de', 'Grüße', undefined, /^\d{6} ist Ihr Bestätigungscode für Grüße\./],
    ['German with its quotation marks', 'de', '„Chat“', 'unicode', /^\d{6} ist Ihr Bestätigungscode für „Chat“\./],
    ['Chinese', 'en', '聊天室', 'unicode', /^\d{6} is your 聊天室 verification code\./],
  ])('Vonage: %s (%s, app %s) goes as type %s, and reaches the handset as written', async (_what, language, appName, type, arrives) => {
    // Without the one-time code line, so that a text outside GSM-7 still fits one UCS-2 segment whole.
    const running = await start({ ...vonageSmsConfig(gateway.url), webotp_line: false }, appName);
    expect((await requestToken(running, language)).status).toBe(200);
    const [sms] = await gateway.waitFor(1);
    expect(sms.type).toBe(type);
    expect(sms.text).toMatch(arrives);
  });

  it('SNS: a request signed with a clock twenty minutes off is refused as expired, for good', async () => {
    const running = await start(snsSmsConfig(gateway.url), 'Example Chat', new FakeClock(Date.now() - 20 * 60_000));
    expect((await requestToken(running, 'en')).status).toBe(200);
    await eventually(() => running.module.deliveryCounts.failed === 1, 'the message to be given up on');
    expect(gateway.requests).toBe(1);
    expect(gateway.messages).toHaveLength(0);
  });
});
