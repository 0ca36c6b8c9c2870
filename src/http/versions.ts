import type { Logger } from '../logger';
import { ThreepidError } from '../threepid/errors';

/** The spec versions the sidecar claims when it has no homeserver to ask. */
export const OWN_VERSIONS: readonly string[] = ['r0.5.0', 'r0.6.0', 'r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6'];

/** The flag MSC2263 defines: clients may leave `id_server` out. */
export const REQUIRE_IDENTITY_SERVER_FLAG = 'm.require_identity_server';

export interface VersionsBody {
  versions: string[];
  unstable_features?: Record<string, boolean>;
  [key: string]: unknown;
}

/**
 * Adds `"m.require_identity_server": false` to a homeserver's `/versions`
 * answer, keeping everything else.
 *
 * ```ts
 * app.get('/_matrix/client/versions', (_req, res) => {
 *   res.json(withThreepidVersions({ versions: ['v1.11'], unstable_features: {} }));
 * });
 * ```
 */
export function withThreepidVersions<T extends VersionsBody>(body: T): T {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ThreepidError('M_INVALID_PARAM', 'withThreepidVersions takes the /versions body, an object with versions');
  }
  const features: unknown = body.unstable_features;
  if (features !== undefined && (features === null || typeof features !== 'object' || Array.isArray(features))) {
    throw new ThreepidError('M_INVALID_PARAM', 'unstable_features must be an object');
  }
  return { ...body, unstable_features: { ...(body.unstable_features ?? {}), [REQUIRE_IDENTITY_SERVER_FLAG]: false } };
}

const CACHE_MS = 60_000;
/** Our own list stands in for the homeserver's only briefly: ask again soon. */
const FALLBACK_CACHE_MS = 5_000;
const UPSTREAM_TIMEOUT_MS = 5_000;

/**
 * The sidecar's `/versions`: the homeserver's own answer (cached for a
 * minute) with the flag merged in, or its own list when there is no
 * homeserver to ask or it does not answer within `upstreamTimeoutMs`.
 * Callers that come while the homeserver is being asked wait for that one
 * request: however many clients come, one upstream request is open at a time.
 */
export class VersionsSource {
  private cached: { body: VersionsBody; until: number } | undefined;
  private pending: Promise<VersionsBody> | undefined;

  constructor(
    private readonly homeserverBaseUrl: string | undefined,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly upstreamTimeoutMs: number = UPSTREAM_TIMEOUT_MS,
  ) {}

  async get(): Promise<VersionsBody> {
    if (this.cached && this.now() < this.cached.until) return this.cached.body;
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async refresh(): Promise<VersionsBody> {
    const upstream = this.homeserverBaseUrl ? await this.fetchUpstream(this.homeserverBaseUrl) : undefined;
    const body = withThreepidVersions(upstream ?? { versions: [...OWN_VERSIONS], unstable_features: {} });
    const fallback = upstream === undefined && this.homeserverBaseUrl !== undefined;
    this.cached = { body, until: this.now() + (fallback ? FALLBACK_CACHE_MS : CACHE_MS) };
    return body;
  }

  private async fetchUpstream(baseUrl: string): Promise<VersionsBody | undefined> {
    try {
      const response = await fetch(`${baseUrl}/_matrix/client/versions`, {
        signal: AbortSignal.timeout(this.upstreamTimeoutMs),
        redirect: 'error',
      });
      const body = (await response.json()) as VersionsBody;
      if (!response.ok || !Array.isArray(body?.versions)) throw new Error(`status ${response.status}`);
      return body;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'homeserver /versions unavailable; answering our own');
      return undefined;
    }
  }
}
