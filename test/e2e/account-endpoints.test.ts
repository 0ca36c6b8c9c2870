import path from 'node:path';
import { startBareHomeserver, type BareHomeserver } from '../support/bare-homeserver';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const FILE = 'client-server/administrative_contact.yaml';

describe('account 3PID endpoints served by the module for a homeserver that keeps none', () => {
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running;
  let homeserver: BareHomeserver;

  beforeEach(async () => {
    smtp = await startSmtpSink();
    homeserver = await startBareHomeserver();
    dir = tempDir();
    hs = await startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      homeserver: { base_url: homeserver.url, shared_secret: 'test-shared-secret-that-is-long-enough-0123456789' },
    });
  });

  afterEach(async () => {
    await hs.close();
    await homeserver.close();
    await smtp.close();
    removeDir(dir);
  });

  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  async function validatedSession(email: string, secret: string): Promise<string> {
    const count = smtp.messages.length;
    const res = await post(`${hs.url}/_matrix/client/v3/account/3pid/email/requestToken`, { client_secret: secret, email, send_attempt: 1 });
    const link = linkIn((await smtp.waitFor(count + 1))[count]);
    const ok = await post(res.body.submit_url, { sid: res.body.sid, client_secret: secret, token: link.searchParams.get('token') });
    expect(ok.body).toEqual({ success: true });
    return res.body.sid;
  }

  it('asks for the password through UIA, then adds the address and lists it', async () => {
    const sid = await validatedSession('Alice@Example.org', 'cs1');
    const add = `${hs.url}/_matrix/client/v3/account/3pid/add`;

    const challenge = await post(add, { sid, client_secret: 'cs1' }, as('alice-token'));
    expect(challenge.status).toBe(401);
    expectResponseMatchesSpec(FILE, '/account/3pid/add', 'post', 401, challenge.body);
    expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);

    const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: '@alice:example.org' }, session: challenge.body.session };
    const wrong = await post(add, { sid, client_secret: 'cs1', auth: { ...auth, password: 'nope' } }, as('alice-token'));
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    expectResponseMatchesSpec(FILE, '/account/3pid/add', 'post', 401, wrong.body);

    const forged = await post(add, { sid, client_secret: 'cs1', auth: { ...auth, session: 'x.y.z', password: 'alice-pw' } }, as('alice-token'));
    expect(forged.status).toBe(401);
    expect(forged.body.session).not.toBe('x.y.z');

    const added = await post(add, { sid, client_secret: 'cs1', auth: { ...auth, password: 'alice-pw' } }, as('alice-token'));
    expect(added.status).toBe(200);
    expect(added.body).toEqual({});
    // The password check's device is logged out at once.
    expect(homeserver.calls.logout).toBe(homeserver.calls.login - 1);

    const list = await fetch(`${hs.url}/_matrix/client/v3/account/3pid`, { headers: as('alice-token') });
    const body = (await list.json()) as { threepids: unknown[] };
    expectResponseMatchesSpec(FILE, '/account/3pid', 'get', 200, body);
    expect(body.threepids).toEqual([{ medium: 'email', address: 'alice@example.org', validated_at: expect.any(Number), added_at: expect.any(Number) }]);

    // The session is spent, and the address now belongs to Alice: registering with it is refused.
    const again = await post(add, { sid, client_secret: 'cs1', auth: { ...auth, password: 'alice-pw' } }, as('alice-token'));
    expectMatrixError(again.body, 'M_THREEPID_AUTH_FAILED');
    const register = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'r', email: 'alice@example.org', send_attempt: 1 });
    expectMatrixError(register.body, 'M_THREEPID_IN_USE');
  });

  it('refuses an address another user has, and one whose session is not validated', async () => {
    await hs.module.bindings.put('email', 'taken@example.org', '@bob:example.org');
    const sid = await validatedSession('carol@example.org', 'cs2');
    await hs.module.bindings.put('email', 'carol@example.org', '@bob:example.org');
    const add = `${hs.url}/_matrix/client/r0/account/3pid/add`;
    const challenge = await post(add, { sid, client_secret: 'cs2' }, as('alice-token'));
    const auth = { type: 'm.login.password', user: 'alice', password: 'alice-pw', session: challenge.body.session };
    expectMatrixError((await post(add, { sid, client_secret: 'cs2', auth }, as('alice-token'))).body, 'M_THREEPID_IN_USE');

    const res = await post(`${hs.url}/_matrix/client/v3/account/3pid/email/requestToken`, { client_secret: 'cs3', email: 'dave@example.org', send_attempt: 1 });
    const notValidated = await post(add, { sid: res.body.sid, client_secret: 'cs3', auth }, as('alice-token'));
    expect(notValidated.status).toBe(403);
    expectMatrixError(notValidated.body, 'M_THREEPID_AUTH_FAILED');
  });

  it('deletes only the caller’s own 3PIDs and reports no identity-server unbind', async () => {
    await hs.module.bindings.put('email', 'alice@example.org', '@alice:example.org');
    await hs.module.bindings.put('email', 'bob@example.org', '@bob:example.org');
    const del = (address: string) => post(`${hs.url}/_matrix/client/v3/account/3pid/delete`, { medium: 'email', address }, as('alice-token'));
    const res = await del('Alice@example.org');
    expect(res.status).toBe(200);
    expectResponseMatchesSpec(FILE, '/account/3pid/delete', 'post', 200, res.body);
    expect(res.body).toEqual({ id_server_unbind_result: 'no-support' });
    await del('bob@example.org');
    expect(await hs.module.bindings.findUserId('email', 'bob@example.org')).toBe('@bob:example.org');
    expect(await hs.module.bindings.findUserId('email', 'alice@example.org')).toBeNull();

    const unbind = await post(`${hs.url}/_matrix/client/v3/account/3pid/unbind`, { medium: 'email', address: 'bob@example.org' }, as('alice-token'));
    expectResponseMatchesSpec(FILE, '/account/3pid/unbind', 'post', 200, unbind.body);
    expectMatrixError((await post(`${hs.url}/_matrix/client/v3/account/3pid/delete`, { medium: 'fax', address: 'x' }, as('alice-token'))).body, 'M_INVALID_PARAM');
  });

  it('authenticates every call with the homeserver, caching whoami briefly', async () => {
    const list = (headers: Record<string, string>) => fetch(`${hs.url}/_matrix/client/v3/account/3pid`, { headers });
    const none = await list({});
    expect(none.status).toBe(401);
    expectMatrixError(await none.json(), 'M_MISSING_TOKEN');
    const bad = await list(as('who-knows'));
    expect(bad.status).toBe(401);
    expectMatrixError(await bad.json(), 'M_UNKNOWN_TOKEN');
    await list(as('alice-token'));
    await list(as('alice-token'));
    expect(homeserver.calls.whoami).toBe(2);
  });
});
