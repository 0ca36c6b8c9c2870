import { createHash } from 'node:crypto';
import { processMonotonicClock, type Clock, type MonotonicClock } from '../sources';
import { HomeserverRateLimited, HomeserverUnavailable, type UserAuthority } from '../threepid/ports';

export type { UserAuthority } from '../threepid/ports';

const CACHE_MS = 60_000;
const CACHE_MAX_ENTRIES = 10_000;
const TIMEOUT_MS = 10_000;

export interface HomeserverUserAuthorityOptions {
  /**
   * Send the client's IP (as the module found it) in `X-Forwarded-For`, so a
   * homeserver that trusts the module's header counts each client's logins
   * apart instead of all of them as the module's. Default true.
   */
  readonly forwardClientIp?: boolean;
  /** What the whoami cache's minute is measured by. Default: the process's monotonic clock. */
  readonly monotonicClock?: MonotonicClock;
}

/**
 * A {@link UserAuthority} over any homeserver's client API:
 * `GET /account/whoami` with the user's token (cached for a minute, keyed by
 * a hash of the token so the cache holds no usable token), and a password
 * check by logging in and at once logging the new device out. A `429` from
 * the homeserver comes back as {@link HomeserverRateLimited}.
 */
export class HomeserverUserAuthority implements UserAuthority {
  private readonly cache = new Map<string, { userId: string | null; until: number }>();
  private readonly forwardClientIp: boolean;
  private readonly monotonicClock: MonotonicClock;

  constructor(
    private readonly baseUrl: string,
    private readonly clock: Clock,
    options: HomeserverUserAuthorityOptions = {},
  ) {
    this.forwardClientIp = options.forwardClientIp ?? true;
    this.monotonicClock = options.monotonicClock ?? processMonotonicClock;
  }

  async userIdForAccessToken(accessToken: string, clientIp?: string): Promise<string | null> {
    const key = createHash('sha256').update(accessToken).digest('base64url');
    const hit = this.cache.get(key);
    if (hit && hit.until > this.monotonicClock.monotonicNow()) return hit.userId;
    const response = await this.call({ method: 'GET', path: '/_matrix/client/v3/account/whoami', accessToken, clientIp });
    let userId: string | null = null;
    if (response.ok) {
      const body = (await readJson(response)) as { user_id?: unknown };
      if (typeof body.user_id !== 'string') throw upstream('The homeserver gave an invalid whoami answer');
      userId = body.user_id;
    } else if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
    } else {
      throw await refusal(response, 'whoami', this.clock);
    }
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(key, { userId, until: this.monotonicClock.monotonicNow() + CACHE_MS });
    return userId;
  }

  async checkPassword(userId: string, password: string, clientIp?: string): Promise<boolean> {
    const response = await this.call({
      method: 'POST',
      path: '/_matrix/client/v3/login',
      clientIp,
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: userId },
        password,
        initial_device_display_name: 'matrix-hs-threepid password check',
      },
    });
    if (!response.ok) {
      if (response.status === 403 || response.status === 401) {
        await response.body?.cancel();
        return false;
      }
      throw await refusal(response, 'login', this.clock);
    }
    const body = (await readJson(response)) as { access_token?: unknown; user_id?: unknown };
    if (typeof body.access_token === 'string') {
      // The device only existed to check the password.
      const logout = await this.call({ method: 'POST', path: '/_matrix/client/v3/logout', accessToken: body.access_token, clientIp, body: {} });
      await logout.body?.cancel();
    }
    return body.user_id === userId;
  }

  private async call(request: { method: string; path: string; accessToken?: string; clientIp?: string; body?: object }): Promise<Response> {
    const { method, path, accessToken, clientIp, body } = request;
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
          ...(clientIp && this.forwardClientIp ? { 'x-forwarded-for': clientIp } : {}),
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

/** What a failed answer means: the homeserver's `429` (with its wait, when it gave one), or that it cannot be used. */
async function refusal(response: Response, what: string, clock: Clock): Promise<Error> {
  if (response.status !== 429) {
    await response.body?.cancel();
    return upstream(`The homeserver answered ${what} with ${response.status}`);
  }
  let fromBody: unknown;
  try {
    fromBody = ((await response.json()) as { retry_after_ms?: unknown } | null)?.retry_after_ms;
  } catch {
    // A 429 without a JSON body still says "later"; Retry-After may say when.
  }
  const waitMs =
    typeof fromBody === 'number' && Number.isFinite(fromBody) && fromBody >= 0
      ? Math.ceil(fromBody)
      : retryAfterHeaderMs(response.headers.get('retry-after'), clock.now());
  return new HomeserverRateLimited(waitMs);
}

/** `Retry-After` (RFC 9110): a number of seconds, or an HTTP date. */
function retryAfterHeaderMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
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
