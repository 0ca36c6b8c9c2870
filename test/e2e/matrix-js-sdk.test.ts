/**
 * A real Matrix client (matrix-js-sdk) through whole flows, with nothing
 * hand-made for what the SDK does: register with an email address, reset a
 * password by email, add an email address and a phone number, list and
 * delete them. The same flows run against the two arrangements an
 * integrator can copy from examples/: the homeserver embedding the module,
 * and the homeserver using the sidecar behind a real nginx. Each test starts
 * from a user of its own, with addresses of its own.
 */
import {
  createClient as createSdkClient,
  Filter,
  MatrixError,
  type AuthDict,
  type ICreateClientOpts,
  type MatrixClient,
} from 'matrix-js-sdk';
import { startHostHomeserver } from '../../examples/host-homeserver/host';
import { decodeHtmlEntities } from '../support/e2e-utils';
import { removeDir, tempDir } from '../support/harness';
import type { RunningNginx } from '../support/nginx';
import { SIDECAR_PATHS } from '../support/proxy-routes';
import { startSidecarBehindNginx, threepidTestConfig } from '../support/sidecar-arrangement';
import { startSmsGateway, type SmsGateway } from '../support/sms-gateway';
import { linkIn, startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp';
import { expectResponseMatchesSpec } from '../support/spec';

/** The SDK logs every request at debug level; keep its warnings and errors only. */
const quietLogger: NonNullable<ICreateClientOpts['logger']> = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (...msg) => console.warn(...msg),
  error: (...msg) => console.error(...msg),
  getChild: () => quietLogger,
};
const createClient = (opts: ICreateClientOpts) => createSdkClient({ logger: quietLogger, ...opts });

interface User {
  name: string;
  id: string;
  email: string;
  password: string;
  /** An access token, once logged in. */
  token: string;
}

interface Arrangement {
  /** What clients use as the homeserver's base URL. */
  baseUrl: string;
  nginx?: RunningNginx;
  /** host:port of the sidecar's public listener and of the homeserver, as nginx logs its upstreams. */
  sidecarAddress?: string;
  homeserverAddress?: string;
  close(): Promise<void>;
}

/** (a) examples/host-homeserver/host.ts: the module embedded in the homeserver's own Express app. */
async function embedded(dir: string, smtp: SmtpSink, gateway: SmsGateway): Promise<Arrangement> {
  const host = await startHostHomeserver({ serverName: 'example.org', threepid: threepidTestConfig(dir, smtp, gateway) });
  return { baseUrl: host.url, close: () => host.close() };
}

/** (b) the sidecar and examples/host-homeserver/sidecar-host.ts behind nginx run with the README's configuration. */
const sidecarBehindNginx = (dir: string, smtp: SmtpSink, gateway: SmsGateway): Promise<Arrangement> =>
  startSidecarBehindNginx(dir, smtp, gateway);

/** The SDK's error for a refused request (a UIA 401 carries the flows in `data`). */
async function refusal(request: Promise<unknown>): Promise<MatrixError> {
  try {
    await request;
  } catch (err) {
    if (err instanceof MatrixError) return err;
    throw err;
  }
  throw new Error('expected the request to be refused');
}

describe.each([
  ['the homeserver embedding the module', embedded, false],
  ['the sidecar and its homeserver behind nginx', sidecarBehindNginx, true],
])('matrix-js-sdk against %s', (_name, arrange, behindNginx) => {
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let dir: string;
  let env: Arrangement;

  let users = 0;
  /** A person who has no account yet, with an address nobody else uses. */
  const newcomer = (): User => {
    users += 1;
    const name = `alice${users}`;
    return { name, id: `@${name}:example.org`, email: `${name}@example.org`, password: 'correct horse battery', token: '' };
  };

  beforeAll(async () => {
    smtp = await startSmtpSink();
    gateway = await startSmsGateway();
    dir = tempDir('threepid-sdk-');
    env = await arrange(dir, smtp, gateway);
  }, 600_000); // the first run may install nginx

  afterAll(async () => {
    await env?.close();
    await gateway?.close();
    await smtp?.close();
    if (dir) removeDir(dir);
  });

  const anonymous = () => createClient({ baseUrl: env.baseUrl });
  const loggedIn = (user: User) => createClient({ baseUrl: env.baseUrl, accessToken: user.token, userId: user.id });

  /** `user` registered through the email flow and logged in (the first test walks through it step by step). */
  async function registered(user: User): Promise<User> {
    const client = anonymous();
    const first = await refusal(client.registerRequest({ username: user.name, password: user.password }));
    const secret = client.generateClientSecret();
    const requested = await client.requestRegisterEmailToken(user.email, secret, 1);
    await confirmLink(await smtp.nthTo(user.email, 1));
    const auth = { type: 'm.login.email.identity', threepid_creds: { sid: requested.sid, client_secret: secret } };
    await client.register(user.name, user.password, first.data.session, auth);
    return { ...user, token: (await anonymous().loginWithPassword(user.name, user.password)).access_token };
  }

  /** What a person does: open the emailed link, then press the button (the form POSTs the token). */
  async function confirmLink(mail: ReceivedMail): Promise<void> {
    const link = linkIn(mail);
    expect(link.origin).toBe(env.baseUrl);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
    expect(action).toBeDefined();
    const form = new URLSearchParams();
    for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      form.append(name, decodeHtmlEntities(value));
    }
    const confirmed = await fetch(new URL(decodeHtmlEntities(action!), link), { method: 'POST', body: form, redirect: 'manual' });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('Email address confirmed');
  }

  /** The one-stage UIA the module runs for /account/3pid/add: the user's password again. */
  async function addThreePid(client: MatrixClient, user: User, sid: string, clientSecret: string): Promise<void> {
    const challenge = await refusal(client.addThreePidOnly({ sid, client_secret: clientSecret }));
    expect(challenge.httpStatus).toBe(401);
    expect(challenge.data.flows).toEqual([{ stages: ['m.login.password'] }]);
    const password = (value: string) => ({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: user.id },
      password: value,
      session: challenge.data.session,
    });
    const wrong = await refusal(client.addThreePidOnly({ sid, client_secret: clientSecret, auth: password('wrong') }));
    expect([wrong.httpStatus, wrong.errcode]).toEqual([401, 'M_FORBIDDEN']);
    expect(await client.addThreePidOnly({ sid, client_secret: clientSecret, auth: password(user.password) })).toEqual({});
  }

  it('finds a homeserver that needs no identity server', async () => {
    const versions = await anonymous().getVersions();
    expectResponseMatchesSpec('client-server/versions.yaml', '/versions', 'get', 200, versions);
    expect(versions.versions).toContain('v1.11');
    expect(versions.unstable_features?.['m.require_identity_server']).toBe(false);
  });

  it('registers with an email address: requestRegisterEmailToken, the emailed link, register with the UIA stage, log in', async () => {
    const user = newcomer();
    const client = anonymous();
    const first = await refusal(client.registerRequest({ username: user.name, password: user.password }));
    expect(first.httpStatus).toBe(401);
    expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 401, first.data);
    expect(first.data.flows).toEqual([{ stages: ['m.login.email.identity'] }, { stages: ['m.login.msisdn'] }]);
    const session = first.data.session as string;

    const secret = client.generateClientSecret();
    const requested = await client.requestRegisterEmailToken(user.email.replace('alice', 'Alice').replace('example', 'Example'), secret, 1);
    expect(requested.submit_url).toBe(`${env.baseUrl}/_threepid/client/v1/email/submit_token`);
    const auth = { type: 'm.login.email.identity', threepid_creds: { sid: requested.sid, client_secret: secret } };

    const early = await refusal(client.register(user.name, user.password, session, { ...auth }));
    expect([early.httpStatus, early.errcode]).toEqual([401, 'M_SESSION_NOT_VALIDATED']);
    expect(early.data.session).toBe(session);

    await confirmLink(await smtp.nthTo(user.email, 1));
    const done = await client.register(user.name, user.password, session, { ...auth });
    expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 200, done);
    expect(done).toEqual({
      user_id: user.id,
      access_token: expect.any(String),
      device_id: expect.any(String),
      home_server: 'example.org',
    });

    // The session is spent; the address is taken.
    const again = await refusal(client.register(`${user.name}b`, user.password, session, { ...auth }));
    expect([again.httpStatus, again.errcode]).toEqual([401, 'M_NO_VALID_SESSION']);
    const taken = await refusal(anonymous().requestRegisterEmailToken(user.email, client.generateClientSecret(), 1));
    expect([taken.httpStatus, taken.errcode]).toEqual([400, 'M_THREEPID_IN_USE']);

    const login = await anonymous().loginWithPassword(user.name, user.password);
    expect(login.user_id).toBe(user.id);
    user.token = login.access_token;
    const byEmail = await anonymous().loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.thirdparty', medium: 'email', address: user.email.toUpperCase() },
      password: user.password,
    });
    expect(byEmail.user_id).toBe(user.id);

    const me = loggedIn(user);
    expect(await me.whoami()).toEqual({ user_id: user.id, device_id: login.device_id });
    const capabilities = await me.getCapabilities();
    expect(capabilities['m.3pid_changes']).toEqual({ enabled: true });
    const listed = await me.getThreePids();
    expectResponseMatchesSpec('client-server/administrative_contact.yaml', '/account/3pid', 'get', 200, listed);
    expect(listed.threepids).toEqual([
      { medium: 'email', address: user.email, validated_at: expect.any(Number), added_at: expect.any(Number) },
    ]);
  });

  it('resets the password by email: the old password is refused, the new one works, other devices are logged out', async () => {
    const user = await registered(newcomer());
    const client = anonymous();
    const secret = client.generateClientSecret();
    const requested = await client.requestPasswordEmailToken(user.email.replace('example', 'EXAMPLE'), secret, 1);
    await confirmLink(await smtp.nthTo(user.email, 2)); // after the registration's

    const first = await refusal(client.setPassword({}, 'a new password'));
    expect(first.httpStatus).toBe(401);
    expectResponseMatchesSpec('client-server/password_management.yaml', '/account/password', 'post', 401, first.data);
    // As Element sends it: both spellings of the credentials.
    const creds = { sid: requested.sid, client_secret: secret };
    const auth = { type: 'm.login.email.identity', session: first.data.session, threepid_creds: creds, threepidCreds: creds } as AuthDict;
    expect(await client.setPassword(auth, 'a new password', true)).toEqual({});

    const old = await refusal(anonymous().loginWithPassword(user.name, user.password));
    expect([old.httpStatus, old.errcode]).toEqual([403, 'M_FORBIDDEN']);
    const loggedOut = await refusal(loggedIn(user).whoami());
    expect([loggedOut.httpStatus, loggedOut.errcode]).toEqual([401, 'M_UNKNOWN_TOKEN']);

    const token = (await anonymous().loginWithPassword(user.name, 'a new password')).access_token;
    expect((await loggedIn({ ...user, token }).whoami()).user_id).toBe(user.id);
  });

  it('adds an email address and a phone number, lists both, logs in by phone number, and deletes one', async () => {
    const user = await registered(newcomer());
    const work = `${user.name}.work@example.org`;
    const me = loggedIn(user);
    const emailSecret = me.generateClientSecret();
    const emailSession = await me.requestAdd3pidEmailToken(work, emailSecret, 1);
    await confirmLink(await smtp.nthTo(work, 1));
    await addThreePid(me, user, emailSession.sid, emailSecret);

    const phoneSecret = me.generateClientSecret();
    const phoneSession = await me.requestAdd3pidMsisdnToken('FR', '06 12 34 56 78', phoneSecret, 1);
    expect(phoneSession).toMatchObject({ msisdn: '33612345678', submit_url: `${env.baseUrl}/_threepid/client/v1/msisdn/submit_token` });
    const code = await gateway.codeTo('+33612345678');
    const submitted = await me.submitMsisdnTokenOtherUrl(phoneSession.submit_url!, phoneSession.sid, phoneSecret, code);
    expect(submitted).toEqual({ success: true });
    await addThreePid(me, user, phoneSession.sid, phoneSecret);

    const listed = await me.getThreePids();
    expectResponseMatchesSpec('client-server/administrative_contact.yaml', '/account/3pid', 'get', 200, listed);
    const byAddress = [...listed.threepids].sort((a, b) => a.address.localeCompare(b.address));
    expect(byAddress).toEqual(
      ['33612345678', work, user.email].map((address) => ({
        medium: address.includes('@') ? 'email' : 'msisdn',
        address,
        validated_at: expect.any(Number),
        added_at: expect.any(Number),
      })),
    );
    for (const threepid of listed.threepids) expect(threepid.added_at).toBeGreaterThanOrEqual(threepid.validated_at);

    const byPhone = await anonymous().loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.thirdparty', medium: 'msisdn', address: '33612345678' },
      password: user.password,
    });
    expect(byPhone.user_id).toBe(user.id);

    const deleted = await me.deleteThreePid('email', work);
    expectResponseMatchesSpec('client-server/administrative_contact.yaml', '/account/3pid/delete', 'post', 200, deleted);
    expect(deleted).toEqual({ id_server_unbind_result: 'no-support' });
    expect((await me.getThreePids()).threepids.map((threepid) => threepid.address).sort()).toEqual(['33612345678', user.email]);
  });

  it('registers with a phone number: requestRegisterMsisdnToken, the texted code at submit_url, register with m.login.msisdn', async () => {
    const client = anonymous();
    const secret = client.generateClientSecret();
    const requested = await client.requestRegisterMsisdnToken('FR', '06 98 76 54 32', secret, 1);
    const code = await gateway.codeTo('+33698765432');
    expect(await client.submitMsisdnTokenOtherUrl(requested.submit_url!, requested.sid, secret, code)).toEqual({ success: true });
    const first = await refusal(client.registerRequest({ username: 'bob', password: 'bob password' }));
    const auth = { type: 'm.login.msisdn', threepid_creds: { sid: requested.sid, client_secret: secret } };
    const done = await client.register('bob', 'bob password', first.data.session, auth);
    expect(done.user_id).toBe('@bob:example.org');

    const bob = createClient({ baseUrl: env.baseUrl, accessToken: done.access_token, userId: done.user_id });
    expect((await bob.getThreePids()).threepids).toEqual([
      { medium: 'msisdn', address: '33698765432', validated_at: expect.any(Number), added_at: expect.any(Number) },
    ]);
    const taken = await refusal(anonymous().requestRegisterMsisdnToken('FR', '0698765432', client.generateClientSecret(), 1));
    expect([taken.httpStatus, taken.errcode]).toEqual([400, 'M_THREEPID_IN_USE']);
  });

  it("answers a client's first calls after login: the spec's default push rules, a filter, an empty sync, a profile", async () => {
    const user = await registered(newcomer());
    const me = loggedIn(user);
    const authed = { headers: { authorization: `Bearer ${user.token}` } };
    // The server's own answer (the SDK's getPushRules adds unstable rules of its own).
    const answer = await fetch(`${env.baseUrl}/_matrix/client/v3/pushrules/`, authed);
    expect(answer.status).toBe(200);
    const rules = ((await answer.json()) as { global: unknown }).global as Record<string, Array<{ rule_id: string; conditions?: unknown[] }>>;
    expect(rules.room).toEqual([]);
    expect(rules.sender).toEqual([]);
    expect(rules.override.map((rule) => rule.rule_id)).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.contains_display_name',
      '.m.rule.is_room_mention',
      '.m.rule.roomnotif',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
    expect(rules.override.find((rule) => rule.rule_id === '.m.rule.invite_for_me')!.conditions).toContainEqual({
      kind: 'event_match',
      key: 'state_key',
      pattern: user.id,
    });
    expect(rules.content).toEqual([expect.objectContaining({ rule_id: '.m.rule.contains_user_name', pattern: user.name, enabled: true })]);
    expect(rules.underride.map((rule) => rule.rule_id)).toEqual([
      '.m.rule.call',
      '.m.rule.encrypted_room_one_to_one',
      '.m.rule.room_one_to_one',
      '.m.rule.message',
      '.m.rule.encrypted',
    ]);

    const filter = new Filter(user.id);
    filter.setTimelineLimit(10);
    const filterId = await me.getOrCreateFilter('web', filter);
    expect((await me.getFilter(user.id, filterId, false)).getDefinition()).toEqual({ room: { timeline: { limit: 10 } } });
    const othersFilter = await refusal(me.getFilter('@nobody:example.org', filterId, false));
    expect([othersFilter.httpStatus, othersFilter.errcode]).toEqual([403, 'M_FORBIDDEN']);

    const sync = await fetch(`${env.baseUrl}/_matrix/client/v3/sync?filter=${filterId}&timeout=0`, authed);
    expect(sync.status).toBe(200);
    expect(await sync.json()).toMatchObject({ next_batch: expect.any(String), rooms: { join: {}, invite: {}, leave: {} } });
    const anonymousSync = await fetch(`${env.baseUrl}/_matrix/client/v3/sync`);
    expect(anonymousSync.status).toBe(401);
    expect(((await anonymousSync.json()) as { errcode: string }).errcode).toBe('M_MISSING_TOKEN');

    expect(await me.getProfileInfo(user.id)).toEqual({});
    const stranger = await refusal(me.getProfileInfo('@nobody:example.org'));
    expect([stranger.httpStatus, stranger.errcode]).toEqual([404, 'M_NOT_FOUND']);
    const turn = await refusal(me.turnServer());
    expect([turn.httpStatus, turn.errcode]).toEqual([404, 'M_UNRECOGNIZED']);
  });

  it.each([
    ['requestToken', '/_matrix/client/v3/register/email/requestToken'],
    ['/register', '/_matrix/client/v3/register'],
    ['/versions', '/_matrix/client/versions'],
    ['an unknown path', '/_matrix/client/v3/voip/turnServer'],
  ])('answers a browser preflight on %s with 200 and CORS headers, and CORS on its errors', async (_what, route) => {
    const preflight = await fetch(env.baseUrl + route, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
    expect(preflight.status).toBe(200);
    expect(await preflight.text()).toBe('');
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('X-Requested-With, Content-Type, Authorization');
    const refused = await fetch(env.baseUrl + route, { method: 'PUT', headers: { authorization: 'Bearer nope' }, body: '{' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('answers an unknown access token on the 3PID endpoints with M_UNKNOWN_TOKEN', async () => {
    const stranger = createClient({ baseUrl: env.baseUrl, accessToken: 'syt_not_a_token', userId: '@alice:example.org' });
    const refused = await refusal(stranger.getThreePids());
    expect([refused.httpStatus, refused.errcode]).toEqual([401, 'M_UNKNOWN_TOKEN']);
  });

  // Behind nginx, every request a test made reached the server the README
  // routes it to: the module's paths (test/support/proxy-routes.ts) the
  // sidecar, everything else the homeserver.
  let logged = 0;
  afterEach(() => {
    if (!behindNginx) return;
    const lines = env.nginx!.accessLog().split('\n').filter(Boolean);
    for (const line of lines.slice(logged)) {
      const requestPath = /^"\S+ ([^ ?]+)/.exec(line)![1];
      const sidecar = SIDECAR_PATHS.includes(requestPath) || requestPath.startsWith('/_threepid/client/');
      const upstream = sidecar ? env.sidecarAddress! : env.homeserverAddress!;
      expect([line, line.endsWith(` ${upstream}`)]).toEqual([line, true]);
    }
    expect(lines.length).toBeGreaterThan(logged);
    logged = lines.length;
  });
});
