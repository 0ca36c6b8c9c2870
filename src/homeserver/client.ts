import { createHash } from 'node:crypto';
import type { Clock } from '../sources';
import { HomeserverUnavailable, type UserAuthority } from '../threepid/ports';

export type { UserAuthority } from '../threepid/ports';

const CACHE_MS = 60_000;
const CACHE_MAX_ENTRIES = 10_000;
const TIMEOUT_MS = 10_000;

/**
 * A {@link UserAuthority} over any homeserver's client API:
 * `GET /account/whoami` with the user's token (cached for a minute, keyed by
 * a hash of the token so the cache holds no usable token), and a password
 * check by logging in and at once logging the new device out.
 */
export class HomeserverUserAuthority implements UserAuthority {
  private readonly cache = new Map<string, { userId: string | null; until: number }>();

  constructor(
    private readonly baseUrl: string,
    private readonly clock: Clock,
  ) {}

  async userIdForAccessToken(accessToken: string): Promise<string | null> {
    const key = createHash('sha256').update(accessToken).digest('base64url');
    const hit = this.cache.get(key);
    if (hit && hit.until > this.clock.now()) return hit.userId;
    const response = await this.call('GET', '/_matrix/client/v3/account/whoami', accessToken);
    let userId: string | null = null;
    if (response.ok) {
      const body = (await readJson(response)) as { user_id?: unknown };
      if (typeof body.user_id !== 'string') throw upstream('The homeserver gave an invalid whoami answer');
      userId = body.user_id;
    } else if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
    } else {
      await response.body?.cancel();
      throw upstream(`The homeserver answered whoami with ${response.status}`);
    }
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(key, { userId, until: this.clock.now() + CACHE_MS });
    return userId;
  }

  async checkPassword(userId: string, password: string): Promise<boolean> {
    const response = await this.call('POST', '/_matrix/client/v3/login', undefined, {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: userId },
      password,
      initial_device_display_name: 'matrix-hs-threepid password check',
    });
    if (!response.ok) {
      await response.body?.cancel();
      if (response.status === 403 || response.status === 401) return false;
      throw upstream(`The homeserver answered login with ${response.status}`);
    }
    const body = (await readJson(response)) as { access_token?: unknown; user_id?: unknown };
    if (typeof body.access_token === 'string') {
      // The device only existed to check the password.
      const logout = await this.call('POST', '/_matrix/client/v3/logout', body.access_token, {});
      await logout.body?.cancel();
    }
    return body.user_id === userId;
  }

  private async call(method: string, path: string, accessToken?: string, body?: object): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        redirect: 'error',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch {
      throw upstream('The homeserver could not be reached');
    }
  }
}

async function readJson(response: Response): Promise<Record<string, unknown>> {
  try {
    const body: unknown = await response.json();
    if (body !== null && typeof body === 'object') return body as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw upstream('The homeserver gave an answer that is not a JSON object');
}

function upstream(message: string): HomeserverUnavailable {
  return new HomeserverUnavailable(message);
}
