/**
 * Sydent reads a JSON `"send_attempt": "1"` as the integer 1; the sidecar's
 * identity-service v1 API refuses it. Synapse 1.67 does relay a client's
 * msisdn `send_attempt` as the client sent it, but then counts it in a
 * Prometheus histogram, which fails on a string: had the delegate accepted
 * it, the code would have been texted and the client answered a 500 with no
 * `sid` to submit it to. So a JSON string stays refused (the client gets
 * Synapse's relayed 400 and nothing is texted); a form's digits (Dendrite)
 * are the integer they stand for. Through an unmodified Synapse and the
 * sidecar process.
 */
import { post, removeDir, tempDir } from '../support/harness';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';
import { expectMatrixError } from '../support/spec';
import { startSynapse, type RunningSynapse } from '../support/synapse';

/** Synapse's first start on a fresh machine installs its Debian packages first. */
const SETUP_TIMEOUT_MS = 20 * 60_000;
const REGISTER_MSISDN = '/_matrix/client/v3/register/msisdn/requestToken';

describe('a string send_attempt, relayed by Synapse 1.67 to its msisdn delegate', () => {
  let gateway: SmsGateway;
  let dir: string;
  let sidecar: SidecarProcess;
  let synapse: RunningSynapse;

  beforeAll(async () => {
    gateway = await startSmsGateway();
    dir = tempDir('threepid-synapse-send-attempt-');
    sidecar = await startSidecarProcess(dir, {
      server_name: 'localhost',
      sms: twilioSmsConfig(gateway.url),
      rc_3pid_validation: { per_second: 1000, burst_count: 1000 },
    });
    synapse = await startSynapse({ msisdnDelegate: sidecar.internalUrl, require3pid: 'msisdn' });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await synapse?.stop();
    await sidecar?.stop();
    await gateway?.close();
    if (dir) removeDir(dir);
  }, 120_000);

  it('is refused with a 400 the client sees, and nothing is texted', async () => {
    const refused = await post(synapse.url + REGISTER_MSISDN, {
      client_secret: 'string_attempt',
      country: 'FR',
      phone_number: '06 11 22 33 44',
      send_attempt: '1',
    });
    expect(refused.status).toBe(400);
    expectMatrixError(refused.body, 'M_INVALID_PARAM');

    // An integer attempt, sent after it, arrives: had the first been texted, it would be there before.
    const ordinary = await post(synapse.url + REGISTER_MSISDN, {
      client_secret: 'integer_attempt',
      country: 'FR',
      phone_number: '06 11 22 33 55',
      send_attempt: 1,
    });
    expect(ordinary.status).toBe(200);
    await gateway.codeTo('+33611223355');
    expect(gateway.messages.map((m) => m.to)).toEqual(['+33611223355']);
  });
});
