import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HomeserverUserAuthority } from '../../../src/homeserver/client';
import { HomeserverRateLimited, HomeserverUnavailable } from '../../../src/threepid/ports';
import { FakeClock } from '../../support/harness';

/** What the scripted homeserver saw of one request. */
interface Seen {
  method: string;
  url: string;
  authorization?: string;
  forwardedFor?: string;
  body: string;
}

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** A homeserver on loopback whose every answer the test scripts, by path. */
describe('HomeserverUserAuthority against a homeserver that answers as scripted', () => {
  let server: Server;
  let baseUrl: string;
  let seen: Seen[];
  let answers: Record<string, Answer>;
  let clock: FakeClock;

  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  const text = (status: number, body: string, headers: Record<string, string> = {}): Answer => (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, forwardedFor: req.headers['x-forwarded-for'] as string | undefined, body });
        const answer = answers[(req.url ?? '').replace('/_matrix/client/v3', '')];
        if (answer) answer(req, res);
        else res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(() => {
    seen = [];
    answers = {};
    clock = new FakeClock(Date.UTC(2026, 5, 1, 12));
  });

  const authority = (forwardClientIp?: boolean) => new HomeserverUserAuthority(baseUrl, clock, { monotonicClock: clock, forwardClientIp });

  async function rejection(promise: Promise<unknown>): Promise<Error> {
    try {
      await promise;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a rejection');
  }

  describe('whoami', () => {
    it('caches an answer for a minute, by token, then asks again', async () => {
      answers['/account/whoami'] = json(200, { user_id: '@alice:example.org' });
      const hs = authority();
      expect(await hs.userIdForAccessToken('tok-a', '192.0.2.7')).toBe('@alice:example.org');
      expect(seen).toEqual([expect.objectContaining({ method: 'GET', authorization: 'Bearer tok-a', forwardedFor: '192.0.2.7' })]);
      clock.advance(59_999);
      expect(await hs.userIdForAccessToken('tok-a')).toBe('@alice:example.org');
      expect(seen).toHaveLength(1);
      clock.advance(1);
      answers['/account/whoami'] = json(200, { user_id: '@alice2:example.org' });
      expect(await hs.userIdForAccessToken('tok-a')).toBe('@alice2:example.org');
      expect(seen).toHaveLength(2);
      expect(seen[1].forwardedFor).toBeUndefined();
    });

    it('caches an unknown token as no user, for 401 and 403 alike', async () => {
      answers['/account/whoami'] = json(401, { errcode: 'M_UNKNOWN_TOKEN' });
      const hs = authority();
      expect(await hs.userIdForAccessToken('gone')).toBeNull();
      expect(await hs.userIdForAccessToken('gone')).toBeNull();
      expect(seen).toHaveLength(1);
      answers['/account/whoami'] = json(403, { errcode: 'M_FORBIDDEN' });
      expect(await hs.userIdForAccessToken('other')).toBeNull();
      expect(seen).toHaveLength(2);
    });

    it('keeps the client IP to itself when told not to forward it', async () => {
      answers['/account/whoami'] = json(200, { user_id: '@alice:example.org' });
      await authority(false).userIdForAccessToken('tok', '192.0.2.7');
      expect(seen[0].forwardedFor).toBeUndefined();
    });

    it('forgets every cached answer once ten thousand are held, rather than growing without bound', async () => {
      answers['/account/whoami'] = json(200, { user_id: '@alice:example.org' });
      const hs = authority();
      await hs.userIdForAccessToken('first');
      for (let index = 1; index < 10_000; index++) await hs.userIdForAccessToken(`t${index}`);
      expect(seen).toHaveLength(10_000);
      // The 10 001st answer clears the cache before it is kept: the first token is asked again.
      await hs.userIdForAccessToken('one-more');
      await hs.userIdForAccessToken('first');
      expect(seen).toHaveLength(10_002);
    }, 120_000);

    it('refuses an answer without a user id, or not JSON, or not an object, as the homeserver being unusable', async () => {
      const hs = authority();
      answers['/account/whoami'] = json(200, { user_id: 7 });
      expect(await rejection(hs.userIdForAccessToken('a'))).toEqual(new HomeserverUnavailable('The homeserver gave an invalid whoami answer'));
      answers['/account/whoami'] = text(200, 'not json');
      expect(await rejection(hs.userIdForAccessToken('b'))).toEqual(new HomeserverUnavailable('The homeserver gave an answer that is not a JSON object'));
      answers['/account/whoami'] = json(200, null);
      expect(await rejection(hs.userIdForAccessToken('c'))).toBeInstanceOf(HomeserverUnavailable);
      answers['/account/whoami'] = json(200, ['@alice:example.org']);
      expect(await rejection(hs.userIdForAccessToken('d'))).toBeInstanceOf(HomeserverUnavailable);
      // Nothing of a refusal is cached.
      answers['/account/whoami'] = json(200, { user_id: '@alice:example.org' });
      expect(await hs.userIdForAccessToken('a')).toBe('@alice:example.org');
    });

    it('says which call failed and with what status when the homeserver errs', async () => {
      answers['/account/whoami'] = json(500, { errcode: 'M_UNKNOWN' });
      const err = await rejection(authority().userIdForAccessToken('a'));
      expect(err).toBeInstanceOf(HomeserverUnavailable);
      expect(err.message).toBe('The homeserver answered whoami with 500');
    });

    it('passes on a 429 with the wait its body gives, rounded up to a whole millisecond', async () => {
      answers['/account/whoami'] = json(429, { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 1500.2 }, { 'retry-after': '99' });
      const err = await rejection(authority().userIdForAccessToken('a'));
      expect(err).toBeInstanceOf(HomeserverRateLimited);
      expect((err as HomeserverRateLimited).retryAfterMs).toBe(1501);
    });
  });

  describe("a 429's wait", () => {
    async function waitFor(answer: Answer): Promise<number | undefined> {
      answers['/login'] = answer;
      const err = await rejection(authority().checkPassword('@alice:example.org', 'pw'));
      expect(err).toBeInstanceOf(HomeserverRateLimited);
      return (err as HomeserverRateLimited).retryAfterMs;
    }

    it('falls back to Retry-After in seconds when the body gives no usable wait', async () => {
      expect(await waitFor(json(429, { errcode: 'M_LIMIT_EXCEEDED' }, { 'retry-after': ' 3 ' }))).toBe(3000);
      expect(await waitFor(json(429, { retry_after_ms: -5 }, { 'retry-after': '2' }))).toBe(2000);
      expect(await waitFor(json(429, { retry_after_ms: '100' }, { 'retry-after': '4' }))).toBe(4000);
      expect(await waitFor(json(429, null, { 'retry-after': '1' }))).toBe(1000);
      expect(await waitFor(text(429, 'slow down', { 'retry-after': '5' }))).toBe(5000);
    });

    it('reads Retry-After as an HTTP date, measured from the wall clock, and never as a negative wait', async () => {
      const at = (offsetMs: number) => new Date(clock.now() + offsetMs).toUTCString();
      expect(await waitFor(text(429, '', { 'retry-after': at(7_000) }))).toBe(7_000);
      expect(await waitFor(text(429, '', { 'retry-after': at(-60_000) }))).toBe(0);
    });

    it('has no wait when neither the body nor a readable Retry-After gives one', async () => {
      expect(await waitFor(text(429, ''))).toBeUndefined();
      expect(await waitFor(text(429, '', { 'retry-after': 'soon' }))).toBeUndefined();
    });
  });

  describe('checkPassword', () => {
    it('logs in, logs the new device out at once with its token, and says whether the user matched', async () => {
      answers['/login'] = json(200, { access_token: 'device-token', user_id: '@alice:example.org' });
      answers['/logout'] = json(200, {});
      expect(await authority().checkPassword('@alice:example.org', 'pw', '192.0.2.9')).toBe(true);
      expect(seen.map((s) => [s.method, s.url, s.authorization, s.forwardedFor])).toEqual([
        ['POST', '/_matrix/client/v3/login', undefined, '192.0.2.9'],
        ['POST', '/_matrix/client/v3/logout', 'Bearer device-token', '192.0.2.9'],
      ]);
      expect(JSON.parse(seen[0].body)).toMatchObject({ type: 'm.login.password', identifier: { type: 'm.id.user', user: '@alice:example.org' }, password: 'pw' });
    });

    it('is false for a login as another user, and logs out nothing when no token came back', async () => {
      answers['/login'] = json(200, { user_id: '@mallory:example.org' });
      expect(await authority().checkPassword('@alice:example.org', 'pw')).toBe(false);
      expect(seen.map((s) => s.url)).toEqual(['/_matrix/client/v3/login']);
    });

    it('is false for a wrong password (403 or 401)', async () => {
      answers['/login'] = json(403, { errcode: 'M_FORBIDDEN' });
      expect(await authority().checkPassword('@alice:example.org', 'bad')).toBe(false);
      answers['/login'] = json(401, { errcode: 'M_FORBIDDEN' });
      expect(await authority().checkPassword('@alice:example.org', 'bad')).toBe(false);
    });

    it('refuses any other failure, and a login answer that is not JSON, as the homeserver being unusable', async () => {
      answers['/login'] = json(502, {});
      expect((await rejection(authority().checkPassword('@alice:example.org', 'pw'))).message).toBe('The homeserver answered login with 502');
      answers['/login'] = text(200, '<html>');
      expect(await rejection(authority().checkPassword('@alice:example.org', 'pw'))).toBeInstanceOf(HomeserverUnavailable);
    });
  });

  it('says the homeserver could not be reached when nothing listens, and follows no redirect', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = new HomeserverUserAuthority(`http://127.0.0.1:${port}`, clock, { monotonicClock: clock });
    expect(await rejection(unreachable.userIdForAccessToken('a'))).toEqual(new HomeserverUnavailable('The homeserver could not be reached'));

    answers['/account/whoami'] = (_req, res) => void res.writeHead(302, { location: `${baseUrl}/elsewhere` }).end();
    expect(await rejection(authority().userIdForAccessToken('a'))).toEqual(new HomeserverUnavailable('The homeserver could not be reached'));
    expect(seen.map((s) => s.url)).toEqual(['/_matrix/client/v3/account/whoami']);
  });
});
