// Regression: a client over its per-IP `rc_3pid_validation` limit had its
// body read, parsed and checked before the limiter was asked, so a flood
// from one IP cost the server a whole request's checks per refusal. The
// per-IP limit is now checked before the body is read: an over-limit IP
// gets 429 whatever it sends (malformed, oversized, missing fields), and the
// refusal is counted. A request refused for its body still spends nothing.
import { MAX_BODY_BYTES } from '../../src/http/json-body';
import { FakeClock } from '../support/harness';
import { expectNoServerErrorsOrLeaks, requestTokenPath, startFixture, type Fixture, type RawResponse } from '../support/request-token-fixture';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

let fx: Fixture;
let n = 0;

beforeEach(async () => {
  fx = await startFixture({ rc_3pid_validation: { per_second: 0.1, burst_count: 2 } }, { clock: new FakeClock() });
});

afterEach(async () => {
  expectNoServerErrorsOrLeaks(fx);
  await fx.close();
});

const valid = () => ({ client_secret: `secret${++n}`, email: `user${n}@example.org`, send_attempt: 1 });
const ask = (body: unknown) => fx.post(requestTokenPath('register'), body);

function expectLimited(res: RawResponse): void {
  expect({ status: res.status, errcode: res.body?.errcode }).toEqual({ status: 429, errcode: 'M_LIMIT_EXCEEDED' });
  expectMatrixError(res.body, 'M_LIMIT_EXCEEDED');
  expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 429, res.body);
  expect(Number.isInteger(res.body.retry_after_ms)).toBe(true);
}

async function refusalsCounted(): Promise<string> {
  return (await fx.hs.module.metrics.registry.metrics()).split('\n').find((line) => line.startsWith('threepid_rate_limited_total{')) ?? '';
}

it('an IP over its limit gets 429 whatever its body: malformed, oversized, incomplete, not an object', async () => {
  expect((await ask(valid())).status).toBe(200);
  expect((await ask(valid())).status).toBe(200);
  const sessions = await fx.count('threepid_sessions');

  expectLimited(await ask('{"client_secret": "cs", "email": '));
  expectLimited(await ask(JSON.stringify({ ...valid(), padding: 'x'.repeat(MAX_BODY_BYTES) })));
  expectLimited(await ask({ client_secret: 'cs' }));
  expectLimited(await ask([1, 2, 3]));
  expectLimited(await ask({ ...valid(), email: 'not an address' }));
  expectLimited(await ask(valid()));

  expect(await fx.count('threepid_sessions')).toBe(sessions);
  expect(await refusalsCounted()).toBe('threepid_rate_limited_total{rule="rc_3pid_validation"} 6');
});

it('an IP under its limit still has its body checked, and a refused body spends nothing', async () => {
  const malformed = await ask('{"client_secret": ');
  expect({ status: malformed.status, errcode: malformed.body.errcode }).toEqual({ status: 400, errcode: 'M_NOT_JSON' });
  const oversized = await ask(JSON.stringify({ ...valid(), padding: 'x'.repeat(MAX_BODY_BYTES) }));
  expect({ status: oversized.status, errcode: oversized.body.errcode }).toEqual({ status: 413, errcode: 'M_TOO_LARGE' });
  const incomplete = await ask({ client_secret: 'cs' });
  expect({ status: incomplete.status, errcode: incomplete.body.errcode }).toEqual({ status: 400, errcode: 'M_MISSING_PARAM' });

  expect((await ask(valid())).status).toBe(200);
  expect((await ask(valid())).status).toBe(200);
  expectLimited(await ask(valid()));
  expect(await refusalsCounted()).toBe('threepid_rate_limited_total{rule="rc_3pid_validation"} 1');
});
