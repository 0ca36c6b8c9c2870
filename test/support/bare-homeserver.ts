/**
 * A homeserver that knows nothing of 3PIDs, over real HTTP on loopback:
 * whoami, login and logout, for the module's account endpoints. It records
 * the `X-Forwarded-For` each call carried, and can be told to answer
 * `/login` with a `429` instead.
 */
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The `429` `/login` answers while set: the body's `retry_after_ms` and the `Retry-After` header, each when given. */
export interface LoginRateLimit {
  retryAfterMs?: number;
  retryAfterHeader?: string;
}

export interface BareHomeserver {
  url: string;
  calls: { whoami: number; login: number; logout: number };
  /** `X-Forwarded-For` of every call, by endpoint (undefined when absent). */
  forwardedFor: { whoami: Array<string | undefined>; login: Array<string | undefined>; logout: Array<string | undefined> };
  tokens: Map<string, string>;
  /** While set, `/login` answers `429` (counted in `calls.login`). */
  loginRateLimit: LoginRateLimit | undefined;
  close(): Promise<void>;
}

export async function startBareHomeserver(): Promise<BareHomeserver> {
  const tokens = new Map([['alice-token', '@alice:example.org'], ['bob-token', '@bob:example.org']]);
  const passwords = new Map([['@alice:example.org', 'alice-pw'], ['@bob:example.org', 'bob-pw']]);
  const calls = { whoami: 0, login: 0, logout: 0 };
  const forwardedFor: BareHomeserver['forwardedFor'] = { whoami: [], login: [], logout: [] };
  const app = express();
  app.use(express.json());
  app.get('/_matrix/client/v3/account/whoami', (req, res) => {
    calls.whoami += 1;
    forwardedFor.whoami.push(req.get('x-forwarded-for'));
    const user = tokens.get((req.get('authorization') ?? '').replace('Bearer ', ''));
    if (!user) return void res.status(401).json({ errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown token' });
    res.json({ user_id: user });
  });
  app.post('/_matrix/client/v3/login', (req, res) => {
    calls.login += 1;
    forwardedFor.login.push(req.get('x-forwarded-for'));
    const limit = homeserver.loginRateLimit;
    if (limit) {
      if (limit.retryAfterHeader !== undefined) res.set('retry-after', limit.retryAfterHeader);
      const wait = limit.retryAfterMs === undefined ? {} : { retry_after_ms: limit.retryAfterMs };
      return void res.status(429).json({ errcode: 'M_LIMIT_EXCEEDED', error: 'Too Many Requests', ...wait });
    }
    const user = req.body.identifier?.user;
    if (passwords.get(user) !== req.body.password) return void res.status(403).json({ errcode: 'M_FORBIDDEN', error: 'Invalid password' });
    const token = `temp-${calls.login}`;
    tokens.set(token, user);
    res.json({ user_id: user, access_token: token, device_id: 'D' });
  });
  app.post('/_matrix/client/v3/logout', (req, res) => {
    calls.logout += 1;
    forwardedFor.logout.push(req.get('x-forwarded-for'));
    tokens.delete((req.get('authorization') ?? '').replace('Bearer ', ''));
    res.json({});
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const homeserver: BareHomeserver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    forwardedFor,
    tokens,
    loginRateLimit: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return homeserver;
}
