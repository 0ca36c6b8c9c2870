// Regression: checkThreepidAuth without `consume` accepted a session
// requested for another flow.
import path from 'node:path';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { linkIn, startSmtpSink } from '../support/smtp';

it('refuses a session requested for another flow at a UIA stage, spent or not', async () => {
  const smtp = await startSmtpSink();
  const dir = tempDir();
  const hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
  });
  try {
    const res = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'cs', email: 'a@example.org', send_attempt: 1 });
    const token = linkIn((await smtp.waitFor(1))[0]).searchParams.get('token');
    await post(res.body.submit_url, { sid: res.body.sid, client_secret: 'cs', token });
    const auth = { type: 'm.login.email.identity', threepid_creds: { sid: res.body.sid, client_secret: 'cs' } };
    for (const consume of [false, true]) {
      await expect(hs.module.checkThreepidAuth(auth, 'password', consume)).rejects.toMatchObject({ errcode: 'M_THREEPID_AUTH_FAILED' });
    }
    await expect(hs.module.checkThreepidAuth(auth, 'register', false)).resolves.toMatchObject({ address: 'a@example.org' });
  } finally {
    await hs.close();
    await smtp.close();
    removeDir(dir);
  }
});
