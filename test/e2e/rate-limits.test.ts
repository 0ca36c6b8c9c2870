/**
 * Issue 3, section 1: `rc_3pid_validation` limits requestToken per client IP and
 * per address, with `429 M_LIMIT_EXCEEDED` and `retry_after_ms`. The client IP
 * comes from `X-Forwarded-For` only when the peer is a trusted proxy.
 *
 * Every request here comes from 127.0.0.1; with `trusted_proxies: ['127.0.0.1']`
 * the X-Forwarded-For header stands in for clients at other addresses. The clock
 * is a FakeClock, so buckets refill only when a test says so. On PostgreSQL the
 * buckets refill by the database's clock, which no test can hold still: time
 * is made to pass there by moving the buckets' last touch back, and waits are
 * a whole token's less the moments the test took.
 */
import type { RawConfig } from '../../src/config';
import type { Flow } from '../../src/store/sessions';
import { FakeClock } from '../support/harness';
import { queryTestDatabase, testEngine } from '../support/postgres';
import {
  expectNoServerErrorsOrLeaks,
  requestTokenPath,
  SPEC_FILES,
  startFixture,
  type Fixture,
  type RawResponse,
} from '../support/request-token-fixture';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

/** Two requests at once, then one every ten seconds. */
const LIMIT = { per_second: 0.1, burst_count: 2 };
const REFILL_MS = 10_000;

let fx: Fixture;
let clock: FakeClock;
let counter = 0;

async function start(raw: Omit<RawConfig, 'database' | 'email'> = {}): Promise<void> {
  clock = new FakeClock();
  fx = await startFixture({ rc_3pid_validation: LIMIT, ...raw }, { clock });
  await fx.hs.module.bindings.put('email', 'owner@example.org', '@owner:example.org');
}

afterEach(async () => {
  if (fx) expectNoServerErrorsOrLeaks(fx);
  await fx?.close();
});

/** A requestToken from `from` (an X-Forwarded-For value), for a fresh address unless one is given. */
function ask(options: { from?: string; email?: string; flow?: Flow; version?: 'r0' | 'v3' } = {}): Promise<RawResponse> {
  counter += 1;
  const flow = options.flow ?? 'register';
  const email = options.email ?? (flow === 'password' ? 'owner@example.org' : `user${counter}@example.org`);
  const headers: Record<string, string> = options.from === undefined ? {} : { 'x-forwarded-for': options.from };
  return fx.post(requestTokenPath(flow, options.version), { client_secret: `secret${counter}`, email, send_attempt: 1 }, headers);
}

function expectAllowed(res: RawResponse, flow: Flow = 'register'): void {
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: expect.objectContaining({ sid: expect.any(String) }) });
  expectResponseMatchesSpec(...SPEC_FILES[flow], 'post', 200, res.body);
}

/**
 * A 429 rate-limit error. The spec documents no 429 for the requestToken
 * endpoints, so the body is checked against the schema it documents for
 * rate-limited requests elsewhere (`rate_limited.yaml`, via POST /register).
 */
function expectLimited(res: RawResponse): void {
  expect({ status: res.status, errcode: res.body?.errcode }).toEqual({ status: 429, errcode: 'M_LIMIT_EXCEEDED' });
  expectMatrixError(res.body, 'M_LIMIT_EXCEEDED');
  expectResponseMatchesSpec('client-server/registration.yaml', '/register', 'post', 429, res.body);
  expect(Number.isInteger(res.body.retry_after_ms)).toBe(true);
  expect(res.body.retry_after_ms).toBeGreaterThan(0);
  expect(res.body.retry_after_ms).toBeLessThanOrEqual(REFILL_MS);
}

/** Lets `ms` pass for the buckets: on the fake clock, or on PostgreSQL by the database's. */
async function elapse(ms: number): Promise<void> {
  clock.advance(ms);
  if (testEngine() === 'postgres') await queryTestDatabase(fx.dbPath, 'UPDATE threepid_rate_limits SET updated_at = updated_at - ?', [ms]);
}

/** Nothing has refilled since the bucket emptied: a whole token's wait (less real moments on the database's clock). */
function expectWholeTokenWait(res: RawResponse): void {
  if (testEngine() === 'postgres') expect(res.body.retry_after_ms).toBeGreaterThan(REFILL_MS / 2);
  else expect(res.body.retry_after_ms).toBe(REFILL_MS);
}

describe('per client IP', () => {
  beforeEach(() => start());

  it('the third request from one IP is 429 M_LIMIT_EXCEEDED with an integer retry_after_ms, and stores and sends nothing', async () => {
    expectAllowed(await ask());
    expectAllowed(await ask());
    const sessions = await fx.count('threepid_sessions');
    const messages = await fx.count('threepid_outbox');

    const limited = await ask();
    expectLimited(limited);
    expectWholeTokenWait(limited);
    expect(await fx.count('threepid_sessions')).toBe(sessions);
    expect(await fx.count('threepid_outbox')).toBe(messages);
    await fx.smtp.waitFor(2);
  });

  it('after retry_after_ms one more request passes, and the next is limited again', async () => {
    await ask();
    await ask();
    const limited = await ask();
    expectLimited(limited);

    // The database's clock runs on between requests: it is left a margin short, not 1 ms.
    const short = testEngine() === 'postgres' ? REFILL_MS / 4 : 1;
    await elapse(limited.body.retry_after_ms - short);
    expectLimited(await ask());
    await elapse(short);
    expectAllowed(await ask());
    expectLimited(await ask());
  });

  it('the six endpoints share one budget', async () => {
    expectAllowed(await ask({ flow: 'register', version: 'r0' }), 'register');
    expectAllowed(await ask({ flow: '3pid', version: 'v3' }), '3pid');
    expectLimited(await ask({ flow: 'password', version: 'v3' }));
    expectLimited(await ask({ flow: '3pid', version: 'r0' }));
  });

  it('X-Forwarded-For is ignored when trusted_proxies is empty: every request counts as the one peer IP', async () => {
    expectAllowed(await ask({ from: '203.0.113.1' }));
    expectAllowed(await ask({ from: '203.0.113.2' }));
    expectLimited(await ask({ from: '203.0.113.3' }));
    expectLimited(await ask({ from: '198.51.100.1, 203.0.113.4' }));
    expectLimited(await ask());
  });
});

describe('behind a trusted proxy', () => {
  beforeEach(() => start({ trusted_proxies: ['127.0.0.1'] }));

  it('each client IP named by X-Forwarded-For has its own budget', async () => {
    expectAllowed(await ask({ from: '203.0.113.1' }));
    expectAllowed(await ask({ from: '203.0.113.1' }));
    expectLimited(await ask({ from: '203.0.113.1' }));

    expectAllowed(await ask({ from: '203.0.113.2' }));
    expectAllowed(await ask({ from: '2001:db8::1' }));
    // The proxy itself, without the header, is one more client.
    expectAllowed(await ask());
  });

  it('a client cannot pick its own key by prepending to X-Forwarded-For: the last untrusted hop counts', async () => {
    expectAllowed(await ask({ from: '198.51.100.7, 203.0.113.50' }));
    expectAllowed(await ask({ from: '198.51.100.8, 203.0.113.50' }));
    expectLimited(await ask({ from: '10.9.8.7, 203.0.113.50' }));
    expectLimited(await ask({ from: '203.0.113.50' }));
  });

  it('one address is limited across client IPs, in any case', async () => {
    expectAllowed(await ask({ from: '203.0.113.1', email: 'victim@example.org' }));
    expectAllowed(await ask({ from: '203.0.113.2', email: 'Victim@Example.ORG' }));
    const limited = await ask({ from: '203.0.113.3', email: ' VICTIM@example.org' });
    expectLimited(limited);
    expectWholeTokenWait(limited);

    // Not a global limit: the same clients may still ask for other addresses…
    expectAllowed(await ask({ from: '203.0.113.1', email: 'other@example.org' }));
    expectAllowed(await ask({ from: '203.0.113.3', email: 'another@example.org' }));
    // …and the address is limited on every flow, whoever asks.
    expectLimited(await ask({ from: '203.0.113.4', email: 'victim@example.org', flow: '3pid' }));

    await elapse(REFILL_MS);
    expectAllowed(await ask({ from: '203.0.113.5', email: 'victim@example.org' }));
    await fx.smtp.waitFor(5);
    expect(fx.smtp.messages.filter((mail) => mail.to[0] === 'victim@example.org')).toHaveLength(3);
  });
});
