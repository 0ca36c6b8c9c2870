/**
 * An unmodified Synapse 1.67 (the lab beside the repository) with
 * `account_threepid_delegates.msisdn` pointing at the sidecar's internal
 * listener, and `registrations_require_3pid: [msisdn]`. matrix-js-sdk talks
 * to Synapse only; Synapse talks to the sidecar process (`node dist/cli.js`)
 * through the identity-service v1 API; the code comes from the SMS sender.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createClient as createSdkClient, MatrixError, type ICreateClientOpts, type MatrixClient } from 'matrix-js-sdk';
import { eventually, queryDb } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { expectResponseMatchesSpec } from '../support/spec';
import { startSynapse, type RunningSynapse } from '../support/synapse';

/** Synapse's first start on a fresh machine installs its Debian packages first. */
const SETUP_TIMEOUT_MS = 20 * 60_000;
const FLOW_TIMEOUT_MS = 60_000;

type SdkLogger = NonNullable<ICreateClientOpts['logger']>;
const silentSdk: SdkLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (...msg) => console.error(...msg),
  getChild: () => silentSdk,
};

async function refusal(request: Promise<unknown>): Promise<MatrixError> {
  const outcome = await request.then(
    () => new Error('expected the request to be refused'),
    (err: unknown) => err,
  );
  if (outcome instanceof MatrixError) return outcome;
  throw outcome;
}

describe('Synapse 1.67 with the sidecar as its msisdn delegate', () => {
  let gateway: SmsGateway;
  let dir: string;
  let sidecar: SidecarProcess;
  let synapse: RunningSynapse;
  const password = 'alice has a long password';
  let alice: MatrixClient;

  const client = (opts: Partial<ICreateClientOpts> = {}) => createSdkClient({ baseUrl: synapse.url, logger: silentSdk, ...opts });
  /** The last text message's code, for a number in E.164 with `+`, once it has been sent. */
  const codeSentTo = async (to: string, count: number) => {
    await gateway.waitFor(count);
    return gateway.codeFor(to);
  };
  const withLogs = async <T>(step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (err) {
      (err as Error).message += `\nSynapse:\n${synapse.logs()}\nSidecar:\n${sidecar.output().slice(-4000)}`;
      throw err;
    }
  };

  beforeAll(async () => {
    gateway = await startSmsGateway();
    dir = tempDir('threepid-synapse-sidecar-');
    sidecar = await startSidecarProcess(dir, {
      server_name: 'localhost',
      sms: twilioSmsConfig(gateway.url),
      rc_3pid_validation: { per_second: 1000, burst_count: 1000 },
      // The sidecar's own policy, stricter than Synapse's (which has none):
      // French and North American numbers, any email address.
      allowed_local_3pids: [
        { medium: 'msisdn', pattern: '^(33|1)\\d+$' },
        { medium: 'email', pattern: '.*' },
      ],
    });
    synapse = await startSynapse({ msisdnDelegate: sidecar.internalUrl, require3pid: 'msisdn' });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await synapse?.stop();
    await sidecar?.stop();
    await gateway?.close();
    if (dir) removeDir(dir);
  }, 120_000);

  it('registers a user whose only UIA stage is m.login.msisdn, and lists the number', () => withLogs(async () => {
    const anonymous = client();
    const first = await refusal(anonymous.registerRequest({ username: 'alice', password }));
    expect(first.httpStatus).toBe(401);
    const flows = (first.data.flows as Array<{ stages: string[] }>).map((flow) => flow.stages);
    expect(flows).toContainEqual(['m.login.msisdn']);
    expect(flows.every((stages) => stages.includes('m.login.msisdn'))).toBe(true);
    const session = first.data.session as string;

    const secret = anonymous.generateClientSecret();
    const requested = await anonymous.requestRegisterMsisdnToken('FR', '06 12 34 56 78', secret, 1);
    expectResponseMatchesSpec('client-server/registration.yaml', '/register/msisdn/requestToken', 'post', 200, requested);
    // The sidecar's answer, with Synapse's own submit_url in place.
    expect(requested).toEqual({
      sid: expect.any(String),
      msisdn: '33612345678',
      intl_fmt: '+33 6 12 34 56 78',
      submit_url: `${synapse.url}/_matrix/client/unstable/add_threepid/msisdn/submit_token`,
    });
    const code = await codeSentTo('+33612345678', 1);
    const auth = { type: 'm.login.msisdn', threepid_creds: { sid: requested.sid, client_secret: secret }, session };

    // Not validated yet: Synapse's getValidated3pid call is refused, the stage is not done.
    const early = await refusal(anonymous.register('alice', password, session, auth));
    expect(early.httpStatus).toBe(401);
    expect(early.data.completed ?? []).not.toContain('m.login.msisdn');

    // Synapse proxies its submit_url to the sidecar's submitToken.
    const wrong = await refusal(anonymous.submitMsisdnTokenOtherUrl(requested.submit_url!, requested.sid, secret, code === '000000' ? '111111' : '000000'));
    expect(wrong.httpStatus).toBe(400);
    expect(await anonymous.submitMsisdnTokenOtherUrl(requested.submit_url!, requested.sid, secret, code)).toEqual({ success: true });

    const registered = await anonymous.register('alice', password, session, auth);
    // The sidecar logged every call without the client secret, the code or the number.
    expect(sidecar.output()).toContain('/_matrix/identity/api/v1/3pid/getValidated3pid');
    expect(sidecar.output()).not.toContain(secret);
    // Digits alone, not inside a timestamp or an id.
    for (const digits of [code, '33612345678']) expect(sidecar.output()).not.toMatch(new RegExp(`(^|[^0-9A-Za-z])${digits}($|[^0-9A-Za-z])`));
    expect(registered.user_id).toBe('@alice:localhost');
    alice = client({ accessToken: registered.access_token, userId: registered.user_id });

    const listed = await alice.getThreePids();
    expectResponseMatchesSpec('client-server/administrative_contact.yaml', '/account/3pid', 'get', 200, listed);
    // Synapse keeps the validated_at the sidecar answered; the session is recorded as delegated.
    const [row] = await queryDb<{ flow: string; validated_at: number }>(
      path.join(dir, 'threepid.sqlite'),
      // The sid a client sees is the stored id under a keyed permutation: the row is found by its number.
      "SELECT flow, validated_at FROM threepid_sessions WHERE medium = 'msisdn' AND address = ?",
      '33612345678',
    );
    expect(row.flow).toBe('delegated');
    expect(listed.threepids).toEqual([
      { medium: 'msisdn', address: '33612345678', validated_at: Number(row.validated_at), added_at: expect.any(Number) },
    ]);
  }), FLOW_TIMEOUT_MS);

  it('leaves the in-use check to Synapse: a registered number is refused before the sidecar is asked', () => withLogs(async () => {
    const sent = gateway.messages.length;
    const taken = await refusal(client().requestRegisterMsisdnToken('FR', '0612345678', 'another_secret', 1));
    expect(taken.errcode).toBe('M_THREEPID_IN_USE');
    expect(gateway.messages).toHaveLength(sent);
  }), FLOW_TIMEOUT_MS);

  it("relays the sidecar's policy refusal: a number it does not allow never reaches the SMS gateway", () => withLogs(async () => {
    const sent = gateway.messages.length;
    for (const request of [
      client().requestRegisterMsisdnToken('GB', '07911 123456', 'refused_secret_1', 1),
      alice.requestAdd3pidMsisdnToken('GB', '07911 123456', 'refused_secret_2', 1),
    ]) {
      const refused = await refusal(request);
      expect(refused.httpStatus).toBe(403);
      expect(refused.errcode).toBe('M_THREEPID_DENIED');
    }
    // Nothing was stored either: the refusal came before the session.
    const rows = await queryDb(path.join(dir, 'threepid.sqlite'), "SELECT sid FROM threepid_sessions WHERE address = '447911123456'");
    expect(rows).toEqual([]);
    expect(gateway.messages).toHaveLength(sent);
    const metrics = await (await fetch(`${sidecar.internalUrl}/metrics`)).text();
    expect(metrics).toContain('threepid_policy_refusals_total{rule="allowed_local_3pids",medium="msisdn",at="request"} 2');
  }), FLOW_TIMEOUT_MS);

  it('adds a second number through /account/3pid/add, with the password asked again', () => withLogs(async () => {
    const secret = alice.generateClientSecret();
    const sent = gateway.messages.length;
    const requested = await alice.requestAdd3pidMsisdnToken('US', '(212) 736-5000', secret, 1);
    expectResponseMatchesSpec('client-server/administrative_contact.yaml', '/account/3pid/msisdn/requestToken', 'post', 200, requested);
    expect(requested).toMatchObject({ msisdn: '12127365000', submit_url: `${synapse.url}/_matrix/client/unstable/add_threepid/msisdn/submit_token` });
    const code = await codeSentTo('+12127365000', sent + 1);
    expect(await alice.submitMsisdnTokenOtherUrl(requested.submit_url!, requested.sid, secret, code)).toEqual({ success: true });

    const challenge = await refusal(alice.addThreePidOnly({ sid: requested.sid, client_secret: secret }));
    expect(challenge.httpStatus).toBe(401);
    expect((challenge.data.flows as Array<{ stages: string[] }>).map((flow) => flow.stages)).toContainEqual(['m.login.password']);
    const passwordAuth = {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'alice' },
      password,
      session: challenge.data.session as string,
    };
    await alice.addThreePidOnly({ sid: requested.sid, client_secret: secret, auth: passwordAuth });

    const listed = await alice.getThreePids();
    expect([...listed.threepids].sort((a, b) => a.address.localeCompare(b.address))).toEqual(
      ['12127365000', '33612345678'].map((address) => ({
        medium: 'msisdn',
        address,
        validated_at: expect.any(Number),
        added_at: expect.any(Number),
      })),
    );
  }), FLOW_TIMEOUT_MS);

  it("answers Dendrite's shapes too: a form-urlencoded email requestToken, the link page, getValidated3pid", () => withLogs(async () => {
    const v1 = `${sidecar.internalUrl}/_matrix/identity/api/v1`;
    const requested = await fetch(`${v1}/validate/email/requestToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_secret: 'dendrite_secret', email: 'bob@example.org', send_attempt: '1' }),
    });
    expect(requested.status).toBe(200);
    const { sid } = (await requested.json()) as { sid: string };
    const validated = () => fetch(`${v1}/3pid/getValidated3pid?sid=${sid}&client_secret=dendrite_secret`);
    const before = await validated();
    expect(before.status).toBe(400);
    expect(await before.json()).toMatchObject({ errcode: 'M_SESSION_NOT_VALIDATED' });

    // The development transport writes the email beside the database; its link opens the public page.
    const mailDir = path.join(dir, 'mail');
    const link = await eventually<URL | undefined>(() => {
      const file = existsSync(mailDir) ? readdirSync(mailDir).find((name) => name.endsWith('.txt')) : undefined;
      const found = file && /https?:\/\/\S+\/validate\?\S+/.exec(readFileSync(path.join(mailDir, file), 'utf8'));
      return found ? new URL(found[0]) : undefined;
    }, 'the email with its link') as URL;
    expect(link.origin).toBe(sidecar.url);
    const confirmed = await fetch(new URL(link.pathname, sidecar.url), { method: 'POST', body: link.searchParams });
    expect(confirmed.status).toBe(200);

    const after = await validated();
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ medium: 'email', address: 'bob@example.org', validated_at: expect.any(Number) });
    // Never on the public listener.
    expect((await fetch(`${sidecar.url}/_matrix/identity/api/v1/3pid/getValidated3pid?sid=${sid}&client_secret=dendrite_secret`)).status).toBe(404);
  }), FLOW_TIMEOUT_MS);
});
