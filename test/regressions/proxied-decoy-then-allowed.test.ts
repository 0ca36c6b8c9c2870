// Regression: in proxy mode with errors inhibited, a refused request records
// the identity server's session under a client secret nobody holds. The
// identity server answers the same sid to the same client_secret and address,
// and a session already recorded was left as it was: an allowed request after
// a refused one (registering an address that turns out to be taken, then
// resetting the password with it) got a session nothing could spend.
import path from 'node:path';
import { internalToken, post, removeDir, startModule, tempDir } from '../support/harness';
import { startIdentityServer } from '../support/identity-server';

it('an allowed proxied request after a refused one, with the same client_secret, starts a session that can be spent', async () => {
  const is = await startIdentityServer({ requireTerms: false });
  const dir = tempDir();
  const hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    request_token_inhibit_3pid_errors: true,
    identity_server: { proxy: true, trusted: [is.hostPort], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'] },
  });
  try {
    await hs.module.bindings.put('email', 'owner@example.org', '@owner:example.org');
    const accessToken = is.issueAccessToken('@owner:example.org');
    const body = { client_secret: 'cs', email: 'owner@example.org', send_attempt: 1, id_server: is.hostPort, id_access_token: accessToken };
    const refused = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, body);
    const allowed = await post(`${hs.url}/_matrix/client/v3/account/password/email/requestToken`, body);
    expect([refused.status, allowed.status]).toEqual([200, 200]);
    // One session at the identity server, which the address's owner validates.
    expect(allowed.body.sid).toBe(refused.body.sid);
    is.validate(allowed.body.sid);

    const consume = (flow: string) =>
      post(
        `${hs.internalUrl}/_threepid/v1/sessions/consume`,
        { sid: allowed.body.sid, client_secret: 'cs', id_server: is.hostPort, id_access_token: accessToken, flow },
        { authorization: `Bearer ${internalToken()}` },
      );
    // The refused request's session still proves nothing.
    expect((await consume('register')).body.errcode).toBe('M_NO_VALID_SESSION');
    const spent = await consume('password');
    expect({ status: spent.status, body: spent.body }).toEqual({
      status: 200,
      body: { medium: 'email', address: 'owner@example.org', validated_at: expect.any(Number) },
    });
  } finally {
    await hs.close();
    await is.close();
    removeDir(dir);
  }
});
