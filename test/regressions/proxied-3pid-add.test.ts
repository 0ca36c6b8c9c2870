// Regression: /account/3pid/add looked only for the module's own sessions, so
// a session requested through a trusted identity server (proxy mode) could
// never be added. Proving one means asking that identity server with the
// user's token for it, which the spec's body has no field for: /add now takes
// `id_server` and `id_access_token` beside `sid` and `client_secret`.
import path from 'node:path';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { startIdentityServer } from '../support/identity-server';

it('adds an address whose session an identity server ran, given id_server and id_access_token', async () => {
  const is = await startIdentityServer({ requireTerms: false });
  const dir = tempDir();
  const hs = await startModule(
    {
      database: { path: path.join(dir, 'threepid.sqlite') },
      accounts: { require_password: false },
      identity_server: { proxy: true, trusted: [is.hostPort], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'] },
    },
    // The homeserver's side, as an embedding host gives it: one user.
    {
      userAuthority: {
        userIdForAccessToken: async (token) => (token === 'alice-token' ? '@alice:example.org' : null),
        checkPassword: async () => false,
      },
    },
  );
  try {
    const isToken = is.issueAccessToken('@alice:example.org');
    const requested = await post(`${hs.url}/_matrix/client/v3/account/3pid/email/requestToken`, {
      client_secret: 'cs',
      email: 'alice@example.org',
      send_attempt: 1,
      id_server: is.hostPort,
      id_access_token: isToken,
    });
    expect(requested.status).toBe(200);
    is.validate(requested.body.sid);

    const add = (body: object) => post(`${hs.url}/_matrix/client/v3/account/3pid/add`, body, { authorization: 'Bearer alice-token' });
    const creds = { sid: requested.body.sid, client_secret: 'cs' };
    // Without them, nothing says which identity server to ask, nor with what.
    expect((await add(creds)).body.errcode).toBe('M_THREEPID_AUTH_FAILED');
    const added = await add({ ...creds, id_server: is.hostPort, id_access_token: isToken });
    expect({ status: added.status, body: added.body }).toEqual({ status: 200, body: {} });
    expect(await hs.module.bindings.get('email', 'alice@example.org')).toMatchObject({ userId: '@alice:example.org' });
    // Spent, as any session is once added.
    expect((await add({ ...creds, id_server: is.hostPort, id_access_token: isToken })).body.errcode).toBe('M_THREEPID_AUTH_FAILED');
  } finally {
    await hs.close();
    await is.close();
    removeDir(dir);
  }
});
