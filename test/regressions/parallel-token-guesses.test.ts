// Regression: the wrong-try limit was read before any parallel guess was
// counted, so many guesses sent at once were all checked.
import path from 'node:path';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { startSmsGateway } from '../support/sms-gateway';

it('counts parallel wrong codes one by one: only max_token_attempts of them are ever checked', async () => {
  const gateway = await startSmsGateway();
  const dir = tempDir();
  const hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    sms: { sender: 'http', http: { url: `${gateway.url}/webhook` }, rc_per_number: { per_second: 1, burst_count: 100 } },
  });
  try {
    const res = await post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, {
      client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1,
    });
    await gateway.waitFor(1);
    const code = gateway.codeFor('+33612345678');
    const guesses = Array.from({ length: 40 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
    const answers = await Promise.all(guesses.map((token) => post(res.body.submit_url, { sid: res.body.sid, client_secret: 'cs', token })));
    expect(answers.every((answer) => answer.body.errcode === 'M_TOKEN_INCORRECT')).toBe(true);
    expect(answers.filter((answer) => answer.body.error === 'The token is incorrect')).toHaveLength(5);
    const right = await post(res.body.submit_url, { sid: res.body.sid, client_secret: 'cs', token: code });
    expect(right.body.errcode).toBe('M_TOKEN_INCORRECT');
  } finally {
    await hs.close();
    await gateway.close();
    removeDir(dir);
  }
});

it('answers every parallel submission of the right code with success, and validates the session once', async () => {
  const gateway = await startSmsGateway();
  const dir = tempDir();
  const hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    sms: { sender: 'http', http: { url: `${gateway.url}/webhook` } },
  });
  try {
    const res = await post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, {
      client_secret: 'cs', country: 'FR', phone_number: '0612345679', send_attempt: 1,
    });
    await gateway.waitFor(1);
    const code = gateway.codeFor('+33612345679');
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => post(res.body.submit_url, { sid: res.body.sid, client_secret: 'cs', token: code })),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
    expect(answers.every((answer) => answer.body.success === true)).toBe(true);
    const metrics = await (await fetch(`${hs.internalUrl}/metrics`)).text();
    expect(metrics).toMatch(/^threepid_sessions_total\{medium="msisdn",flow="register",event="validated"\} 1$/m);
  } finally {
    await hs.close();
    await gateway.close();
    removeDir(dir);
  }
});
