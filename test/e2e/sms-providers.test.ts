import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { eventually, queryDb } from '../support/e2e-utils';
import { CapturingLogger, FakeClock, internalToken, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import {
  SNS_SESSION_TOKEN,
  SNS_TEMPORARY_KEY_ID,
  SNS_TEMPORARY_SECRET,
} from '../support/sms-provider-stand-ins';
import { snsSmsConfig, startSmsGateway, twilioSmsConfig, vonageSmsConfig, type GatewayMessage, type SmsGateway } from '../support/sms-gateway';

const REGISTER = '/_matrix/client/v3/register/msisdn/requestToken';
const MSISDN = '33612345678';
const SERVICE_SID = 'MG0123456789abcdef0123456789abcdef';

interface Provider {
  /** The module's `sms` settings for this provider at the gateway's URL; `wrong` spoils the credentials. */
  sms(url: string, wrong?: boolean): Record<string, unknown>;
  /** What the stand-in must have been sent, beyond the number and the code. */
  expectRequest(sms: GatewayMessage): void;
  /** A refusal for good: [HTTP status, the provider's code, words of its reason]. */
  permanent: [number, string, RegExp];
  /** A refusal worth another try. */
  temporary: [number, string];
}

const PROVIDERS: Array<[string, Provider]> = [
  [
    'Twilio, from a number',
    {
      sms: (url, wrong) => twilioSmsConfig(url, wrong ? { auth_token: 'not-the-token' } : {}),
      expectRequest(sms) {
        expect(sms).toMatchObject({ via: 'twilio', from: '+15005550006', messagingServiceSid: undefined });
      },
      permanent: [400, '21211', /code 21211, The 'To' number \[redacted\] is not a valid phone number/],
      temporary: [429, '20429'],
    },
  ],
  [
    'Twilio, through a messaging service',
    {
      sms: (url, wrong) => twilioSmsConfig(url, { from: undefined, messaging_service_sid: SERVICE_SID, ...(wrong ? { auth_token: 'nope' } : {}) }),
      expectRequest(sms) {
        expect(sms).toMatchObject({ via: 'twilio', from: undefined, messagingServiceSid: SERVICE_SID });
      },
      permanent: [400, '21610', /code 21610, Attempt to send to unsubscribed recipient/],
      temporary: [503, '20503'],
    },
  ],
  [
    'Amazon SNS',
    {
      sms: (url, wrong) => snsSmsConfig(url, wrong ? { secret_access_key: 'not-the-secret' } : {}),
      expectRequest(sms) {
        expect(sms.via).toBe('sns');
        expect(sms.attributes).toEqual({ 'AWS.SNS.SMS.SMSType': 'Transactional' });
        expect(sms.raw).toMatchObject({ Action: 'Publish', Version: '2010-03-31', PhoneNumber: `+${MSISDN}` });
        expect(sms.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIA\w+\/\d{8}\/eu-west-1\/sns\/aws4_request, /);
        expect(sms.headers['x-amz-security-token']).toBeUndefined();
      },
      permanent: [400, 'InvalidParameter', /code InvalidParameter, Invalid parameter: PhoneNumber Reason: \[redacted\] is not valid/],
      // SNS throttles with a 400 (Type Sender): the code, not the status, says it is worth another try.
      temporary: [400, 'Throttling'],
    },
  ],
  [
    'Amazon SNS, temporary credentials and a sender ID',
    {
      sms: (url, wrong) =>
        snsSmsConfig(url, {
          access_key_id: SNS_TEMPORARY_KEY_ID,
          secret_access_key: SNS_TEMPORARY_SECRET,
          session_token: wrong ? 'an-expired-token' : SNS_SESSION_TOKEN,
          sender_id: 'ExampleHS',
        }),
      expectRequest(sms) {
        expect(sms.attributes).toEqual({ 'AWS.SNS.SMS.SMSType': 'Transactional', 'AWS.SNS.SMS.SenderID': 'ExampleHS' });
        expect(sms.headers['x-amz-security-token']).toBe(SNS_SESSION_TOKEN);
        expect(sms.headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-security-token/);
      },
      permanent: [403, 'AuthorizationError', /code AuthorizationError, /],
      temporary: [500, 'InternalError'],
    },
  ],
  [
    'Vonage',
    {
      sms: (url, wrong) => vonageSmsConfig(url, wrong ? { api_secret: 'not-the-secret' } : {}),
      expectRequest(sms) {
        expect(sms).toMatchObject({ via: 'vonage', from: 'ExampleHS', type: undefined });
        expect(sms.raw).toMatchObject({ to: MSISDN });
      },
      // Vonage refuses in a 200 answer: the message's status says what happened.
      permanent: [200, '7', /code 7, Number barred/],
      temporary: [200, '1'],
    },
  ],
];

interface OutboxRow {
  status: string;
  attempts: number;
  last_error: string | null;
}

describe.each(PROVIDERS)('SMS through %s', (_name, provider) => {
  let gateway: SmsGateway;
  let dir: string;
  let hs: Running | undefined;
  let clock: FakeClock;
  let logger: CapturingLogger;

  beforeEach(async () => {
    clock = new FakeClock(Date.now());
    gateway = await startSmsGateway({ now: () => clock.now() });
    dir = tempDir();
    logger = new CapturingLogger();
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await gateway.close();
    removeDir(dir);
  });

  const start = async (wrong = false) => {
    const raw = { database: { path: path.join(dir, 'threepid.sqlite') }, sms: provider.sms(gateway.url, wrong) } as RawConfig & { database: { path: string } };
    hs = await startModule(raw, { clock, logger });
    return hs;
  };
  const requestToken = async (running: Running) => {
    const res = await post(running.url + REGISTER, { client_secret: 'cs', country: 'FR', phone_number: '06 12 34 56 78', send_attempt: 1 });
    expect(res.status).toBe(200);
    return res.body as { sid: string; submit_url: string };
  };
  const outbox = () => queryDb<OutboxRow>(path.join(dir, 'threepid.sqlite'), 'SELECT status, attempts, last_error FROM threepid_outbox');
  const expectValidatedWith = async (running: Running, session: { sid: string; submit_url: string }, code: string) => {
    expect((await post(session.submit_url, { sid: session.sid, client_secret: 'cs', token: code })).body).toEqual({ success: true });
    const validated = await post(`${running.internalUrl}/_threepid/v1/sessions/validated`, { sid: session.sid, client_secret: 'cs' }, { authorization: `Bearer ${internalToken()}` });
    expect(validated.body).toMatchObject({ medium: 'msisdn', address: MSISDN });
  };
  /** The reason recorded and logged names the provider's code, never the number or the text. */
  const expectReasonWithoutSecrets = (reason: string | null, code: string) => {
    expect(reason).toContain(`code ${code}`);
    expect(reason).not.toMatch(/\d{6}/);
    expect(logger.text()).not.toContain(MSISDN);
    expect(logger.text()).not.toMatch(/verification code/);
  };

  it('delivers the code, which validates the session', async () => {
    const running = await start();
    const session = await requestToken(running);
    const [sms] = await gateway.waitFor(1);
    expect(sms.to).toBe(`+${MSISDN}`);
    expect(sms.text).toMatch(/^\d{6} is your .+ verification code\./);
    provider.expectRequest(sms);
    await expectValidatedWith(running, session, gateway.codeFor(`+${MSISDN}`));
    await eventually(() => running.module.deliveryCounts.sent === 1, 'the send to be recorded');
  });

  it('marks a refusal for good failed after one attempt, with the provider code and reason', async () => {
    const running = await start();
    const [status, code, reason] = provider.permanent;
    gateway.failNext(1, status, code);
    await requestToken(running);
    await eventually(() => running.module.deliveryCounts.failed === 1, 'the message to be given up on');
    expect(running.module.deliveryCounts).toEqual({ sent: 0, retried: 0, failed: 1 });
    const [row] = await outbox();
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.last_error).toMatch(reason);
    expectReasonWithoutSecrets(row.last_error, code);
    expect(gateway.requests).toBe(1);
  });

  it('refuses wrong credentials for good, at the first attempt', async () => {
    const running = await start(true);
    await requestToken(running);
    await eventually(() => running.module.deliveryCounts.failed === 1, 'the message to be given up on');
    expect(running.module.deliveryCounts).toEqual({ sent: 0, retried: 0, failed: 1 });
    expect(gateway.messages).toHaveLength(0);
    const [row] = await outbox();
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.last_error).not.toContain('secret');
  });

  it('retries a temporary refusal with backoff, then delivers', async () => {
    const running = await start();
    const [status, code] = provider.temporary;
    gateway.failNext(1, status, code);
    const session = await requestToken(running);
    await eventually(() => running.module.deliveryCounts.retried === 1, 'the first attempt to be retried');
    const [row] = await outbox();
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expectReasonWithoutSecrets(row.last_error, code);
    expect(gateway.messages).toHaveLength(0);
    clock.advance(60_000);
    running.module.flushOutbox();
    await gateway.waitFor(1);
    await expectValidatedWith(running, session, gateway.codeFor(`+${MSISDN}`));
    await eventually(() => running.module.deliveryCounts.sent === 1, 'the second attempt to be recorded as sent');
  });
});
