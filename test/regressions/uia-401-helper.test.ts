// requireThreepidStage: a host's 3PID UIA stage answered with the spec's
// 401 body (client-server/definitions/auth_response.yaml), checked against
// the spec for each way a stage goes wrong, on a real module and SMTP sink.
import path from 'node:path';
import { requireThreepidStage, ThreepidError, UiaRequired, type ThreepidStageRequest } from '../../src';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';
import { expectResponseMatchesSpec } from '../support/spec';

const FLOWS = [{ stages: ['m.login.email.identity'] }, { stages: ['m.login.msisdn'] }];
const register: ThreepidStageRequest = { flows: FLOWS, session: 'uia-1', completed: [], flow: 'register', consume: false };

/** The 401 body the helper threw, after checking it against the spec's schema for `POST /register`. */
async function challengeOf(attempt: Promise<unknown>): Promise<Record<string, unknown>> {
  const err = await attempt.then(
    (proof) => {
      throw new Error(`expected a UIA 401, got ${JSON.stringify(proof)}`);
    },
    (thrown: unknown) => thrown,
  );
  expect(err).toBeInstanceOf(UiaRequired);
  const body = (err as UiaRequired).body as Record<string, unknown>;
  expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 401, body);
  expect(body).toMatchObject({ flows: FLOWS, params: {}, session: 'uia-1', completed: [] });
  return body;
}

describe('requireThreepidStage', () => {
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running | undefined;
  const start = async (extra: object = {}) => {
    await hs?.close();
    hs = await startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      ...extra,
    });
    return hs;
  };
  beforeEach(async () => {
    smtp = await startSmtpSink();
    dir = tempDir();
  });
  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await smtp.close();
    removeDir(dir);
  });

  /** A registration session for `email`, validated through its link unless `validate` is false. */
  async function session(email: string, clientSecret: string, validate = true): Promise<object> {
    const res = await post(`${hs!.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: clientSecret, email, send_attempt: 1 });
    expect(res.status).toBe(200);
    if (validate) {
      const token = linkIn((await smtp.waitFor(1))[0]).searchParams.get('token');
      expect((await post(res.body.submit_url, { sid: res.body.sid, client_secret: clientSecret, token })).body).toEqual({ success: true });
    }
    return { type: 'm.login.email.identity', session: 'uia-1', threepid_creds: { sid: res.body.sid, client_secret: clientSecret } };
  }

  it('without a 3PID stage in auth: the 401 without errcode', async () => {
    const module = (await start()).module;
    for (const auth of [undefined, null, {}, { session: 'uia-1' }, { type: 'm.login.dummy', session: 'uia-1' }]) {
      const body = await challengeOf(requireThreepidStage(auth, register, module));
      expect([auth, body]).toEqual([auth, { flows: FLOWS, params: {}, session: 'uia-1', completed: [] }]);
    }
  });

  it('with credentials of the wrong shape: the 401 with their error', async () => {
    const module = (await start()).module;
    const body = await challengeOf(requireThreepidStage({ type: 'm.login.email.identity', threepid_creds: { sid: 's' } }, register, module));
    expect(body.errcode).toBe('M_MISSING_PARAM');
  });

  it('with a session not yet validated: the 401 with M_SESSION_NOT_VALIDATED', async () => {
    await start();
    const auth = await session('a@example.org', 'cs-1', false);
    const body = await challengeOf(requireThreepidStage(auth, register, hs!.module));
    expect(body).toMatchObject({ errcode: 'M_SESSION_NOT_VALIDATED', error: expect.any(String) });
  });

  it('with a session requested for another flow: the 401 with M_THREEPID_AUTH_FAILED, the session unspent', async () => {
    await start();
    const auth = await session('a@example.org', 'cs-1');
    const body = await challengeOf(requireThreepidStage(auth, { ...register, flow: 'password', consume: true }, hs!.module));
    expect(body).toMatchObject({ errcode: 'M_THREEPID_AUTH_FAILED', error: expect.any(String) });
    await expect(requireThreepidStage(auth, { ...register, consume: true }, hs!.module)).resolves.toMatchObject({ address: 'a@example.org' });
  });

  it('with an address the policy refuses since it was validated: the 401 with M_THREEPID_DENIED', async () => {
    await start();
    const auth = await session('late@example.com', 'cs-1');
    await start({ address_policy: { banned_domains: ['example.com'] } });
    const body = await challengeOf(requireThreepidStage(auth, register, hs!.module));
    expect(body).toMatchObject({ errcode: 'M_THREEPID_DENIED', error: expect.any(String) });
  });

  it('with a validated session: the proof, spent once when asked', async () => {
    await start();
    const auth = await session('a@example.org', 'cs-1');
    const proof = { medium: 'email', address: 'a@example.org', validatedAt: expect.any(Number) };
    await expect(requireThreepidStage(auth, register, hs!.module)).resolves.toEqual(proof);
    await expect(requireThreepidStage(auth, { ...register, consume: true }, hs!.module)).resolves.toEqual(proof);
    const body = await challengeOf(requireThreepidStage(auth, { ...register, consume: true }, hs!.module));
    expect(body.errcode).toBe('M_NO_VALID_SESSION');
  });

  it('lets errors that are not a failed stage through: a host bug, a rate limit, a server error', async () => {
    await start();
    const auth = await session('a@example.org', 'cs-1');
    await expect(requireThreepidStage(auth, { ...register, flow: 'login' as never }, hs!.module)).rejects.toMatchObject({
      errcode: 'M_INVALID_PARAM',
    });
    const limited = new ThreepidError('M_LIMIT_EXCEEDED', 'slow down', { retry_after_ms: 1000 });
    await expect(requireThreepidStage(auth, register, { checkThreepidAuth: () => Promise.reject(limited) })).rejects.toBe(limited);
    const broken = new Error('database is gone');
    await expect(requireThreepidStage(auth, register, { checkThreepidAuth: () => Promise.reject(broken) })).rejects.toBe(broken);
  });
});
