// Regression: with errors inhibited, the SMS daily cap refused real requests
// but not decoys, which told bound numbers from unbound ones.
import path from 'node:path';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { startSmsGateway } from '../support/sms-gateway';

it('answers a decoy with the same 429 as a real request once the daily cap is reached', async () => {
  const gateway = await startSmsGateway();
  const dir = tempDir();
  const hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    request_token_inhibit_3pid_errors: true,
    sms: { sender: 'http', http: { url: `${gateway.url}/webhook` }, daily_limit: 1 },
  });
  try {
    await hs.module.bindings.put('msisdn', '12127365000', '@u:example.org');
    const ask = (phone: string, secret: string) =>
      post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, { client_secret: secret, country: 'US', phone_number: phone, send_attempt: 1 });
    expect((await ask('3125550100', 'a')).status).toBe(200);
    const real = await ask('4155550100', 'b');
    const decoy = await ask('2127365000', 'c');
    expect(real.status).toBe(429);
    expect(decoy.status).toBe(429);
    expect(decoy.body.errcode).toBe(real.body.errcode);
  } finally {
    await hs.close();
    await gateway.close();
    removeDir(dir);
  }
});
