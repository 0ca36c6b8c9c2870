import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { startBareHomeserver, type BareHomeserver } from '../support/bare-homeserver';
import { queryDb } from '../support/e2e-utils';
import { CapturingLogger, internalToken, post, removeDir, startModule, tempDir, type JsonResponse, type Running } from '../support/harness';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

/**
 * The address policy through the module's HTTP API, each case on a fresh
 * module over a real SQLite file, a real SMTP sink and a real SMS gateway:
 * what is refused answers `403 M_THREEPID_DENIED` (a text that names no
 * rule) before anything is stored or sent, and is counted by rule.
 */

const V3 = '/_matrix/client/v3';
const EMAIL_PATHS = {
  register: `${V3}/register/email/requestToken`,
  add: `${V3}/account/3pid/email/requestToken`,
  password: `${V3}/account/password/email/requestToken`,
} as const;
const MSISDN_PATHS = {
  register: `${V3}/register/msisdn/requestToken`,
  add: `${V3}/account/3pid/msisdn/requestToken`,
  password: `${V3}/account/password/msisdn/requestToken`,
} as const;
type Purpose = keyof typeof EMAIL_PATHS;
const SPEC: Record<Purpose, [string, string]> = {
  register: ['client-server/registration.yaml', '/register/email/requestToken'],
  add: ['client-server/administrative_contact.yaml', '/account/3pid/email/requestToken'],
  password: ['client-server/password_management.yaml', '/account/password/email/requestToken'],
};

/** Words that would tell a refused client which rule refused it. */
const RULE_WORDS = /allowed|banned|disposable|pattern|domain list|local_3pids|regex|suffix/i;

describe('address policy', () => {
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let dir: string;
  let database: string;
  let hs: Running | undefined;
  let secrets = 0;

  beforeEach(async () => {
    smtp = await startSmtpSink();
    gateway = await startSmsGateway();
    dir = tempDir();
    database = path.join(dir, 'threepid.sqlite');
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await gateway.close();
    await smtp.close();
    removeDir(dir);
  });

  async function start(policy: Partial<RawConfig>, extra: Partial<RawConfig> = {}, logger?: CapturingLogger): Promise<Running> {
    await hs?.close();
    hs = await startModule(
      {
        database: { path: database },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
        sms: twilioSmsConfig(gateway.url),
        ...policy,
        ...extra,
      } as RawConfig & { database: { path: string } },
      { logger },
    );
    return hs;
  }

  const askEmail = (purpose: Purpose, email: string) =>
    post(hs!.url + EMAIL_PATHS[purpose], { client_secret: `cs-${(secrets += 1)}`, email, send_attempt: 1 });
  const askPhone = (purpose: Purpose, country: string, phone: string) =>
    post(hs!.url + MSISDN_PATHS[purpose], { client_secret: `cs-${(secrets += 1)}`, country, phone_number: phone, send_attempt: 1 });

  function expectDenied(res: JsonResponse, purpose: Purpose = 'register'): void {
    expect(res.status).toBe(403);
    expectMatrixError(res.body, 'M_THREEPID_DENIED');
    expect(res.body.error).not.toMatch(RULE_WORDS);
    expectResponseMatchesSpec(...SPEC[purpose], 'post', 403, res.body);
  }

  const rows = async (table: string) => (await queryDb<{ n: number }>(database, `SELECT count(*) AS n FROM ${table}`))[0].n;

  async function refusals(): Promise<string> {
    const res = await fetch(`${hs!.internalUrl}/metrics`);
    return (await res.text())
      .split('\n')
      .filter((line) => line.startsWith('threepid_policy_refusals_total{'))
      .join('\n');
  }

  describe("Synapse's allowed_local_3pids, pasted as it is", () => {
    const synapseExample = {
      allowed_local_3pids: [
        { medium: 'email', pattern: '^[^@]+@example\\.org$' },
        { medium: 'msisdn', pattern: '^44\\d{10}$' },
      ],
    } as Partial<RawConfig>;

    it('admits what a pattern matches, refuses the rest before storing or sending anything, and counts the refusals by rule', async () => {
      await start(synapseExample);
      expect((await askEmail('register', 'Alice@Example.org')).status).toBe(200);
      expect((await askPhone('register', 'GB', '07911 123456')).status).toBe(200);
      await smtp.waitFor(1);
      await gateway.waitFor(1);
      const [sessions, outbox] = [await rows('threepid_sessions'), await rows('threepid_outbox')];

      expectDenied(await askEmail('register', 'alice@example.org.evil.net'));
      expectDenied(await askEmail('register', 'alice@example.net'));
      expectDenied(await askPhone('register', 'FR', '06 12 34 56 78'));
      expectDenied(await askEmail('add', 'alice@example.com'), 'add');

      expect(await rows('threepid_sessions')).toBe(sessions);
      expect(await rows('threepid_outbox')).toBe(outbox);
      expect(smtp.messages).toHaveLength(1);
      expect(gateway.messages).toHaveLength(1);
      const counted = await refusals();
      expect(counted).toContain('threepid_policy_refusals_total{rule="allowed_local_3pids",medium="email",at="request"} 3');
      expect(counted).toContain('threepid_policy_refusals_total{rule="allowed_local_3pids",medium="msisdn",at="request"} 1');
      expect(counted).not.toContain('example.');
    });

    it('a refusal spends no rate-limit token: the next allowed request from the same client still passes', async () => {
      await start(synapseExample, { rc_3pid_validation: { per_second: 0.001, burst_count: 1 } } as Partial<RawConfig>);
      for (let i = 0; i < 3; i += 1) expectDenied(await askEmail('register', 'alice@example.net'));
      expect((await askEmail('register', 'alice@example.org')).status).toBe(200);
      expect((await askEmail('register', 'bob@example.org')).status).toBe(429);
    });

    it('anchors at the start only, as re.match does: a pattern without $ also admits a longer domain', async () => {
      await start({ allowed_local_3pids: [{ medium: 'email', pattern: '^[^@]+@example\\.org' }] } as Partial<RawConfig>);
      expect((await askEmail('register', 'alice@example.org.evil.net')).status).toBe(200);
      expectDenied(await askEmail('register', 'alice@evil.net'));
    });

    it('once the list has entries, a medium none of them names is refused', async () => {
      await start({ allowed_local_3pids: [{ medium: 'email', pattern: '.*' }] } as Partial<RawConfig>);
      expect((await askEmail('register', 'anyone@anywhere.example')).status).toBe(200);
      expectDenied(await askPhone('register', 'GB', '07911 123456'));
    });

    it('applies to register and add, not to password reset (Synapse default)', async () => {
      await start(synapseExample);
      await hs!.module.bindings.put('email', 'owner@example.com', '@owner:example.org');
      expectDenied(await askEmail('register', 'owner2@example.com'));
      expectDenied(await askEmail('add', 'owner2@example.com'), 'add');
      expect((await askEmail('password', 'owner@example.com')).status).toBe(200);
    });
  });

  describe('disable_msisdn_registration and enable_3pid_changes', () => {
    it('disable_msisdn_registration: phone numbers cannot register; adding one still works', async () => {
      await start({ disable_msisdn_registration: true } as Partial<RawConfig>);
      const res = await askPhone('register', 'GB', '07911 123456');
      expect(res.status).toBe(400);
      expectMatrixError(res.body, 'M_THREEPID_MEDIUM_NOT_SUPPORTED');
      expect((await askPhone('add', 'GB', '07911 123456')).status).toBe(200);
      expect((await askEmail('register', 'alice@example.org')).status).toBe(200);
      await gateway.waitFor(1);
      expect(gateway.messages).toHaveLength(1);
    });

    it('enable_3pid_changes: false refuses the 3pid requestTokens (400 M_FORBIDDEN) before anything is sent, and add and delete', async () => {
      const homeserver: BareHomeserver = await startBareHomeserver();
      try {
        await start({ enable_3pid_changes: false } as Partial<RawConfig>, {
          homeserver: { base_url: homeserver.url, shared_secret: 'test-shared-secret-that-is-long-enough-0123456789' },
        });
        for (const res of [await askEmail('add', 'alice@example.org'), await askPhone('add', 'GB', '07911 123456')]) {
          expect(res.status).toBe(400);
          expectMatrixError(res.body, 'M_FORBIDDEN');
        }
        expect(await rows('threepid_sessions')).toBe(0);
        const as = { authorization: 'Bearer alice-token' };
        const add = await post(`${hs!.url}${V3}/account/3pid/add`, { sid: 'abc', client_secret: 'def' }, as);
        expect(add.status).toBe(400);
        expectMatrixError(add.body, 'M_FORBIDDEN');
        const del = await post(`${hs!.url}${V3}/account/3pid/delete`, { medium: 'email', address: 'alice@example.org' }, as);
        expect(del.status).toBe(400);
        expectMatrixError(del.body, 'M_FORBIDDEN');
        // Registration and password reset are not 3PID changes.
        expect((await askEmail('register', 'alice@example.org')).status).toBe(200);
        const counted = await refusals();
        expect(counted).toContain('rule="enable_3pid_changes",medium="email",at="request"} 1');
        expect(counted).toContain('rule="enable_3pid_changes",medium="msisdn",at="request"} 1');
      } finally {
        await hs?.close();
        hs = undefined;
        await homeserver.close();
      }
    });
  });

  describe('domain and address rules', () => {
    it('compares domains in their IDNA form: a Unicode entry matches the punycode spelling, and the other way round', async () => {
      await start({ address_policy: { allowed_domains: ['exämple.org', '*.xn--bcher-kva.example'] } } as Partial<RawConfig>);
      expect((await askEmail('register', 'a@xn--exmple-cua.org')).status).toBe(200);
      expect((await askEmail('register', 'b@EXÄMPLE.org')).status).toBe(200);
      expect((await askEmail('register', 'c@shop.bücher.example')).status).toBe(200);
      expectDenied(await askEmail('register', 'd@bücher.example'));
      expectDenied(await askEmail('register', 'e@example.org'));
    });

    it('banned_domains: exact names and *. forms', async () => {
      await start({ address_policy: { banned_domains: ['example.net', '*.example.com'] } } as Partial<RawConfig>);
      expectDenied(await askEmail('register', 'a@example.net'));
      expectDenied(await askEmail('register', 'a@mail.example.com'));
      expect((await askEmail('register', 'a@example.com')).status).toBe(200);
      expect((await askEmail('register', 'a@sub.example.net')).status).toBe(200);
    });

    it('banned_addresses: literals (canonicalised), suffixes and regexes (applied anywhere, as re.search)', async () => {
      await start({
        address_policy: {
          banned_addresses: { literals: ['CEO@Example.org'], suffixes: ['+spam@example.org'], regexes: ['^admin\\d*@', 'root'] },
        },
      } as Partial<RawConfig>);
      expectDenied(await askEmail('register', 'ceo@example.org'));
      expectDenied(await askEmail('register', 'alice+SPAM@example.org'));
      expectDenied(await askEmail('register', 'Admin42@example.org'));
      expectDenied(await askEmail('register', 'groot@example.org'));
      expect((await askEmail('register', 'ceo2@example.org')).status).toBe(200);
      expect((await askEmail('register', 'sysadmin@example.org')).status).toBe(200);
      expect(await refusals()).toContain('rule="banned_addresses",medium="email",at="request"} 4');
    });

    it('disposable domains: a real list entry and the domains below it are refused; an exception and a local addition are honoured', async () => {
      const logger = new CapturingLogger();
      await start(
        { address_policy: { disposable_domains: { enabled: true, additions: ['throwaway.example'], exceptions: ['mailinator.com'] } } } as Partial<RawConfig>,
        {},
        logger,
      );
      // The start log says which list, of when, and how long.
      expect(logger.lines).toContainEqual({
        level: 'info',
        fields: { list: 'disposable-email-domains-js', version: '1.26.0', published: '2026-09-21', domains: 8883, additions: 1, exceptions: 1 },
        message: 'disposable email domains are refused',
      });
      expectDenied(await askEmail('register', 'a@guerrillamail.com'));
      expectDenied(await askEmail('register', 'a@x.guerrillamail.com'));
      expectDenied(await askEmail('register', 'a@throwaway.example'));
      expect((await askEmail('register', 'a@mailinator.com')).status).toBe(200);
      expect((await askEmail('register', 'a@example.org')).status).toBe(200);
      expect(await refusals()).toContain('rule="disposable_domains",medium="email",at="request"} 3');
    });
  });

  describe('per purpose', () => {
    const banned = (purposes: string[]) =>
      ({ address_policy: { banned_domains: ['example.com'], purposes: { banned_domains: purposes } } }) as Partial<RawConfig>;

    it('by default a banned domain still resets the password of an account that has the address', async () => {
      await start(banned(['register', 'add']));
      await hs!.module.bindings.put('email', 'owner@example.com', '@owner:example.org');
      expect((await askEmail('password', 'owner@example.com')).status).toBe(200);
      expectDenied(await askEmail('register', 'new@example.com'));
      expectDenied(await askEmail('add', 'new@example.com'), 'add');
    });

    it.each<[string[], Purpose[]]>([
      [['register'], ['register']],
      [['add'], ['add']],
      [['password'], ['password']],
      [['add', 'password'], ['add', 'password']],
    ])('a rule for %j refuses only those purposes', async (purposes, refused) => {
      await start(banned(purposes));
      await hs!.module.bindings.put('email', 'owner@example.com', '@owner:example.org');
      for (const purpose of ['register', 'add', 'password'] as Purpose[]) {
        const res = await askEmail(purpose, purpose === 'password' ? 'owner@example.com' : `new-${purpose}@example.com`);
        if (refused.includes(purpose)) expectDenied(res, purpose);
        else expect(res.status).toBe(200);
      }
    });
  });

  describe('a policy that changed after the session began', () => {
    const internal = (route: string, body: unknown) =>
      post(`${hs!.internalUrl}/_threepid/v1/${route}`, body, { authorization: `Bearer ${internalToken()}` });

    it('the internal API and getValidated3pid give a refusal, not a proof', async () => {
      await start({ identity_service_api: { enabled: true } } as Partial<RawConfig>);
      const res = await post(hs!.url + EMAIL_PATHS.register, { client_secret: 'changed-1', email: 'late@example.com', send_attempt: 1 });
      const link = linkIn((await smtp.waitFor(1))[0]);
      expect((await post(res.body.submit_url, { sid: res.body.sid, client_secret: 'changed-1', token: link.searchParams.get('token') })).body).toEqual({
        success: true,
      });
      const delegated = await post(`${hs!.internalUrl}/_matrix/identity/api/v1/validate/email/requestToken`, {
        client_secret: 'changed-2',
        email: 'late@example.com',
        send_attempt: 1,
      });
      expect(delegated.status).toBe(200);
      const mail = linkIn((await smtp.waitFor(2))[1]);
      const submitted = await post(`${hs!.internalUrl}/_matrix/identity/api/v1/validate/email/submitToken`, {
        sid: delegated.body.sid,
        client_secret: 'changed-2',
        token: mail.searchParams.get('token'),
      });
      expect(submitted.body).toEqual({ success: true });

      await start({ identity_service_api: { enabled: true }, address_policy: { banned_domains: ['example.com'] } } as Partial<RawConfig>);
      for (const answer of [
        await internal('sessions/validated', { sid: res.body.sid, client_secret: 'changed-1' }),
        await internal('sessions/consume', { sid: res.body.sid, client_secret: 'changed-1', flow: 'register' }),
        await fetch(
          `${hs!.internalUrl}/_matrix/identity/api/v1/3pid/getValidated3pid?sid=${encodeURIComponent(delegated.body.sid)}&client_secret=changed-2`,
        ).then(async (r) => ({ status: r.status, body: await r.json() })),
      ]) {
        expect(answer.status).toBe(403);
        expectMatrixError(answer.body, 'M_THREEPID_DENIED');
      }
      // Embedded, the UIA stage gives the same refusal.
      await expect(
        hs!.module.checkThreepidAuth({ type: 'm.login.email.identity', threepid_creds: { sid: res.body.sid, client_secret: 'changed-1' } }, 'register', false),
      ).rejects.toMatchObject({ errcode: 'M_THREEPID_DENIED' });
      expect(await refusals()).toContain('rule="banned_domains",medium="email",at="proof"} 4');
    });
  });
});
