// Regression: durations inside the process were measured on the wall clock.
// A step of the system clock (NTP, `date -s`) then refilled rate-limit
// buckets at once or never, and kept a revoked access token's whoami answer
// cached for as long as the clock went back. Both now measure durations on
// the monotonic clock, which `FakeClock.step` leaves alone. UIA sessions
// stay on the wall clock: another replica checks them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HomeserverUserAuthority } from '../../src/homeserver/client';
import { ThreepidError } from '../../src/threepid/errors';
import { RateLimiter } from '../../src/threepid/rate-limiter';
import { StatelessUiaSessions } from '../../src/threepid/uia';
import { cryptoRandom } from '../../src/sources';
import { FakeClock } from '../support/harness';

const HOUR_MS = 3_600_000;

describe('the in-memory rate limiter', () => {
  const limit = { perSecond: 1, burstCount: 1 };

  it('refills no faster when the wall clock jumps forward', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(limit, clock);
    limiter.take('ip:192.0.2.1');
    clock.step(24 * HOUR_MS);
    expect(() => limiter.take('ip:192.0.2.1')).toThrow(ThreepidError);
  });

  it('refills as time passes when the wall clock went back', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(limit, clock);
    limiter.take('ip:192.0.2.1');
    clock.step(-HOUR_MS);
    clock.advance(1000);
    expect(() => limiter.take('ip:192.0.2.1')).not.toThrow();
  });
});

describe('the whoami cache of the sidecar’s user authority', () => {
  let server: Server;
  let baseUrl: string;
  let revoked: boolean;
  let whoamiCalls: number;

  beforeEach(async () => {
    revoked = false;
    whoamiCalls = 0;
    server = createServer((req, res) => {
      whoamiCalls += 1;
      const known = req.url === '/_matrix/client/v3/account/whoami' && req.headers.authorization === 'Bearer alice-token' && !revoked;
      res.writeHead(known ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(known ? { user_id: '@alice:example.org' } : { errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown token' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('forgets a revoked token a minute later, though the wall clock went back', async () => {
    const clock = new FakeClock();
    const authority = new HomeserverUserAuthority(baseUrl, clock, { monotonicClock: clock });
    expect(await authority.userIdForAccessToken('alice-token')).toBe('@alice:example.org');
    revoked = true;
    clock.step(-HOUR_MS);
    clock.advance(60_001);
    expect(await authority.userIdForAccessToken('alice-token')).toBeNull();
  });

  it('keeps its answer for the minute, though the wall clock jumped forward', async () => {
    const clock = new FakeClock();
    const authority = new HomeserverUserAuthority(baseUrl, clock, { monotonicClock: clock });
    expect(await authority.userIdForAccessToken('alice-token')).toBe('@alice:example.org');
    clock.step(HOUR_MS);
    expect(await authority.userIdForAccessToken('alice-token')).toBe('@alice:example.org');
    expect(whoamiCalls).toBe(1);
  });
});

describe('UIA sessions', () => {
  it('are checked on the wall clock, which replicas share, whatever their monotonic clocks read', () => {
    const issuer = new FakeClock();
    const checker = new FakeClock(issuer.now());
    // Started five hours later: its monotonic clock reads something else entirely.
    checker.advance(5 * HOUR_MS);
    checker.step(-5 * HOUR_MS);
    const secret = 'k'.repeat(32);
    const session = new StatelessUiaSessions(secret, issuer, cryptoRandom).start('@a:x');
    const replica = new StatelessUiaSessions(secret, checker, cryptoRandom);
    expect(replica.isValid('@a:x', session)).toBe(true);
    checker.advance(15 * 60_000);
    expect(replica.isValid('@a:x', session)).toBe(false);
  });
});
