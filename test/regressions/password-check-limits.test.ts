// Regression: `/account/3pid/add` passed every password to the homeserver's
// `/login` with no limit of its own and no `X-Forwarded-For`, so a stolen
// access token could guess passwords at the homeserver's pace, and one user
// could spend the homeserver's per-IP login budget (the module's address) for
// everyone; a homeserver `429` came back as `500 M_UNKNOWN`. Password checks
// now spend `rc_password_check` tokens per user and per IP before the password
// leaves the module, carry the client's IP, and a `429` is relayed as one.
import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { startBareHomeserver, type BareHomeserver } from '../support/bare-homeserver';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { testEngine } from '../support/postgres';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const FILE = 'client-server/administrative_contact.yaml';
const UNLIMITED = { per_second: 1000, burst_count: 1000 };

let dir: string;
let homeserver: BareHomeserver;
let hs: Running | undefined;

beforeEach(async () => {
  dir = tempDir();
  homeserver = await startBareHomeserver();
});

afterEach(async () => {
  await hs?.close();
  hs = undefined;
  await homeserver.close();
  removeDir(dir);
});

type Settings = Omit<RawConfig, 'database' | 'homeserver'> & { homeserver?: { forward_client_ip?: boolean } };

/** A module on the test's database and homeserver; each replica of a test gets the same. */
function config(raw: Settings) {
  return {
    database: { path: path.join(dir, 'threepid.sqlite') },
    email: { dev_mail_dir: path.join(dir, 'mail') },
    ...raw,
    homeserver: { base_url: homeserver.url, ...raw.homeserver },
  };
}

async function start(raw: Settings = {}): Promise<Running> {
  hs = await startModule(config(raw));
  return hs;
}

const USERS = { alice: '@alice:example.org', bob: '@bob:example.org' } as const;

/** One `/account/3pid/add` with a password, through the UIA session the module hands out first. */
async function addWithPassword(module: Running, who: keyof typeof USERS, password: string, headers: Record<string, string> = {}) {
  const url = `${module.url}/_matrix/client/v3/account/3pid/add`;
  const as = { authorization: `Bearer ${who}-token`, ...headers };
  const body = { sid: 'some-sid', client_secret: 'some-secret' };
  const challenge = await post(url, body, as);
  expect(challenge.status).toBe(401);
  const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: USERS[who] }, password, session: challenge.body.session };
  return post(url, { ...body, auth }, as);
}

function expectRateLimited(res: { status: number; body: any }) {
  expect(res.status).toBe(429);
  expectMatrixError(res.body, 'M_LIMIT_EXCEEDED');
  expectResponseMatchesSpec(FILE, '/account/3pid/add', 'post', 429, res.body);
  expect(res.body.retry_after_ms).toBeGreaterThan(0);
}

it('refuses a user’s password check past rc_password_check.per_user without asking the homeserver', async () => {
  const module = await start({ rc_password_check: { per_user: { per_second: 0.001, burst_count: 3 }, per_ip: UNLIMITED } });
  for (let i = 0; i < 3; i += 1) {
    const wrong = await addWithPassword(module, 'alice', `guess-${i}`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
  }
  expect(homeserver.calls.login).toBe(3);

  // Even the right password: the module cannot tell it is right without asking.
  expectRateLimited(await addWithPassword(module, 'alice', 'alice-pw'));
  expect(homeserver.calls.login).toBe(3);

  // Bob, from the same address, has his own budget.
  expect((await addWithPassword(module, 'bob', 'wrong')).body.errcode).toBe('M_FORBIDDEN');
  expect(homeserver.calls.login).toBe(4);
});

(testEngine() === 'postgres' ? it : it.skip)('counts a user’s password checks once across replicas sharing PostgreSQL', async () => {
  const limits = { rc_password_check: { per_user: { per_second: 0.001, burst_count: 3 }, per_ip: UNLIMITED } };
  const first = await start(limits);
  const second = await startModule(config(limits));
  try {
    await addWithPassword(first, 'alice', 'guess-1');
    await addWithPassword(second, 'alice', 'guess-2');
    await addWithPassword(first, 'alice', 'guess-3');
    expect(homeserver.calls.login).toBe(3);
    expectRateLimited(await addWithPassword(second, 'alice', 'guess-4'));
    expectRateLimited(await addWithPassword(first, 'alice', 'guess-5'));
    expect(homeserver.calls.login).toBe(3);
  } finally {
    await second.close();
  }
});

(testEngine() === 'postgres' ? it : it.skip)('lets exactly the burst of a new user’s password checks through when ten come at once to two replicas', async () => {
  // The module's limiter factory makes these buckets, as it does the others: each key's row is created, then locked.
  // From ten addresses: one address's per-IP takes, each waiting for its bucket's lock, would space out the per-user ones.
  const limits = { trusted_proxies: ['127.0.0.1'], rc_password_check: { per_user: { per_second: 0.001, burst_count: 5 }, per_ip: UNLIMITED } };
  const first = await start(limits);
  const second = await startModule(config(limits));
  try {
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => addWithPassword(i % 2 ? second : first, 'alice', `guess-${i}`, { 'x-forwarded-for': `203.0.113.${i + 1}` })),
    );
    expect(answers.filter((res) => res.status === 429)).toHaveLength(5);
    expect(homeserver.calls.login).toBe(5);
  } finally {
    await second.close();
  }
});

it('refuses a client IP’s password checks past rc_password_check.per_ip, whichever user they are for', async () => {
  const module = await start({
    trusted_proxies: ['127.0.0.1'],
    rc_password_check: { per_user: UNLIMITED, per_ip: { per_second: 0.001, burst_count: 3 } },
  });
  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  await addWithPassword(module, 'alice', 'guess-1', from('203.0.113.9'));
  await addWithPassword(module, 'alice', 'guess-2', from('203.0.113.9'));
  await addWithPassword(module, 'bob', 'guess-3', from('203.0.113.9'));
  expect(homeserver.calls.login).toBe(3);

  expectRateLimited(await addWithPassword(module, 'bob', 'bob-pw', from('203.0.113.9')));
  expect(homeserver.calls.login).toBe(3);

  expect((await addWithPassword(module, 'bob', 'wrong', from('198.51.100.4'))).body.errcode).toBe('M_FORBIDDEN');
  expect(homeserver.calls.login).toBe(4);
});

it('tells the homeserver the client’s IP as the module found it, unless homeserver.forward_client_ip is off', async () => {
  let module = await start({ trusted_proxies: ['127.0.0.1'] });
  const added = await addWithPassword(module, 'alice', 'alice-pw', { 'x-forwarded-for': '198.51.100.23' });
  // The password was right; the made-up session then fails.
  expectMatrixError(added.body, 'M_THREEPID_AUTH_FAILED');
  expect(homeserver.forwardedFor.whoami).toEqual(['198.51.100.23']);
  expect(homeserver.forwardedFor.login).toEqual(['198.51.100.23']);
  expect(homeserver.forwardedFor.logout).toEqual(['198.51.100.23']);
  await module.close();

  // A client's own X-Forwarded-For is not believed, so it is not passed on either.
  module = await start();
  await addWithPassword(module, 'bob', 'wrong', { 'x-forwarded-for': '198.51.100.23' });
  expect(homeserver.forwardedFor.login.at(-1)).toBe('127.0.0.1');
  await module.close();

  module = await start({ trusted_proxies: ['127.0.0.1'], homeserver: { forward_client_ip: false } });
  await addWithPassword(module, 'bob', 'wrong', { 'x-forwarded-for': '198.51.100.23' });
  expect(homeserver.calls.login).toBe(3);
  expect(homeserver.forwardedFor.login.at(-1)).toBeUndefined();
});

it('relays a homeserver 429 as 429 M_LIMIT_EXCEEDED with its wait, not a 500', async () => {
  const module = await start();
  homeserver.loginRateLimit = { retryAfterMs: 4321 };
  const fromBody = await addWithPassword(module, 'alice', 'alice-pw');
  expectRateLimited(fromBody);
  expect(fromBody.body.retry_after_ms).toBe(4321);

  homeserver.loginRateLimit = { retryAfterHeader: '7' };
  const fromHeader = await addWithPassword(module, 'alice', 'alice-pw');
  expectRateLimited(fromHeader);
  expect(fromHeader.body.retry_after_ms).toBe(7000);
  expect(homeserver.calls.login).toBe(2);
});
