// Regression: requireThreepidStage took any 3PID stage, offered or not:
// with only `m.login.email.identity` offered, a validated phone number
// completed it (and the guide's host registered a user by phone). And
// `"constructor"`, `"toString"`, `"__proto__"` passed for 3PID stage types,
// found by `in` on the prototype of the table of stages.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseThreepidAuth, requireThreepidStage, UiaRequired } from '../../src/index';
import { eventually } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';

let dir: string;
let hs: Running;
let creds: { sid: string; client_secret: string };

beforeAll(async () => {
  dir = tempDir();
  hs = await startModule({
    database: { path: path.join(dir, 't.sqlite') },
    sms: { sender: 'log', dev_sms_dir: path.join(dir, 'sms') },
    email: { dev_mail_dir: path.join(dir, 'mail') },
  });
  const requested = await post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, {
    client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1,
  });
  expect(requested.status).toBe(200);
  const { sid, submit_url } = requested.body as { sid: string; submit_url: string };
  const smsDir = path.join(dir, 'sms');
  await eventually(() => hs.module.deliveryCounts.sent === 1, 'the SMS');
  const token = /(\d{6}) is your/.exec(readFileSync(path.join(smsDir, readdirSync(smsDir)[0]), 'utf8'))![1];
  expect((await post(submit_url, { sid, client_secret: 'cs', token })).body).toEqual({ success: true });
  creds = { sid, client_secret: 'cs' };
});

afterAll(async () => {
  await hs.close();
  removeDir(dir);
});

/** The stage's outcome: the proof, the 401 body, or what else was thrown. */
async function stage(auth: unknown, flows: string[][], completed: string[] = []) {
  const request = { flows: flows.map((stages) => ({ stages })), session: 'uia1', completed, flow: 'register' as const, consume: false };
  try {
    return { proof: await requireThreepidStage(auth, request, hs.module) };
  } catch (err) {
    return err instanceof UiaRequired ? { uia401: err.body } : { thrown: err };
  }
}

const plainChallenge = (flows: string[][], completed: string[] = []) => ({
  uia401: { flows: flows.map((stages) => ({ stages })), params: {}, session: 'uia1', completed },
});

it('refuses an msisdn stage with the plain challenge when only email is offered', async () => {
  const flows = [['m.login.email.identity']];
  expect(await stage({ type: 'm.login.msisdn', session: 'uia1', threepid_creds: creds }, flows)).toEqual(plainChallenge(flows));
});

it('refuses a stage that no flow holding the completed stages continues', async () => {
  const flows = [['m.login.recaptcha', 'm.login.email.identity'], ['m.login.dummy', 'm.login.msisdn']];
  const completed = ['m.login.recaptcha'];
  expect(await stage({ type: 'm.login.msisdn', threepid_creds: creds }, flows, completed)).toEqual(plainChallenge(flows, completed));
});

it('takes the msisdn stage where a flow offers it', async () => {
  const outcome = await stage({ type: 'm.login.msisdn', threepid_creds: creds }, [['m.login.email.identity'], ['m.login.dummy', 'm.login.msisdn']], ['m.login.dummy']);
  expect(outcome).toEqual({ proof: expect.objectContaining({ medium: 'msisdn', address: '33612345678' }) });
});

describe.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('the stage type "%s"', (type) => {
  it('gets the plain challenge, even where a flow names it', async () => {
    const flows = [['m.login.email.identity', type]];
    expect(await stage({ type, threepid_creds: creds }, flows)).toEqual(plainChallenge(flows));
  });

  it('is no 3PID stage to parseThreepidAuth', () => {
    expect(() => parseThreepidAuth({ type, threepid_creds: creds })).toThrow(expect.objectContaining({ errcode: 'M_INVALID_PARAM' }));
  });
});
