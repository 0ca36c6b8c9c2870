// Regression: a requestToken without id_server, after one with it and the
// same client_secret, continued the identity server's session as our own.
import path from 'node:path';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { startIdentityServer } from '../support/identity-server';
import { linkIn, startSmtpSink } from '../support/smtp';

it('starts a session of its own instead of continuing one an identity server runs', async () => {
  const is = await startIdentityServer({ requireTerms: false });
  const smtp = await startSmtpSink();
  const dir = tempDir();
  const hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
    identity_server: { proxy: true, trusted: [is.hostPort], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'] },
  });
  try {
    const url = `${hs.url}/_matrix/client/v3/register/email/requestToken`;
    const body = { client_secret: 'cs', email: 'a@example.org', send_attempt: 1 };
    const proxied = await post(url, { ...body, id_server: is.hostPort, id_access_token: is.issueAccessToken() });
    expect(proxied.status).toBe(200);
    const own = await post(url, body);
    expect(own.status).toBe(200);
    expect(own.body.sid).not.toBe(proxied.body.sid);
    expect(own.body.sid).toMatch(/^[0-9a-zA-Z.=_-]+$/);
    const token = linkIn((await smtp.waitFor(1))[0]).searchParams.get('token');
    expect((await post(own.body.submit_url, { sid: own.body.sid, client_secret: 'cs', token })).body).toEqual({ success: true });
  } finally {
    await hs.close();
    await smtp.close();
    await is.close();
    removeDir(dir);
  }
});
