import type { IdentityProxySettings } from './settings';
import type { Clock } from '../sources';
import { isBareHost } from '../hosts';
import type { Flow, Medium, SessionRecord } from '../model';
import { IdentityCallRefused, type IdentityServerApi, type Storage } from './ports';
import { canonicalAddress } from './bindings';
import { ThreepidError } from './errors';

/** An identity server and the user's access token for it, checked. */
export interface ProxyTarget {
  readonly idServer: string;
  readonly accessToken: string;
}

/** Where a proxied session is stored: our own sids never contain a `/`. */
export function proxiedSessionKey(idServer: string, sid: string): string {
  return `${idServer}/${sid}`;
}

/**
 * Proxy mode (MSC2140): requestToken is forwarded to a trusted identity
 * server with the user's `id_access_token` as a Bearer token, and the
 * session is recorded here so the homeserver can later ask that identity
 * server whether it was validated.
 */
export class IdentityProxy {
  constructor(
    private readonly settings: IdentityProxySettings,
    private readonly client: IdentityServerApi,
    private readonly store: Storage,
    private readonly clock: Clock,
  ) {}

  /** `id_access_token` is required with `id_server`, which must be a trusted bare host. */
  checkTarget(idServer: string, accessToken: string | undefined): ProxyTarget {
    if (accessToken === undefined || accessToken.length === 0) {
      throw new ThreepidError('M_MISSING_PARAM', 'id_access_token is required when id_server is given');
    }
    if (!isBareHost(idServer)) {
      throw new ThreepidError('M_INVALID_PARAM', 'id_server must be a host name with an optional port');
    }
    const normalised = idServer.toLowerCase();
    if (!this.settings.trusted.includes(normalised)) {
      throw new ThreepidError('M_SERVER_NOT_TRUSTED', 'This homeserver does not trust that identity server');
    }
    return { idServer: normalised, accessToken };
  }

  /** Forwards the request; answers the identity server's `sid`. IS errors propagate unchanged. */
  async requestToken(input: {
    target: ProxyTarget;
    flow: Flow;
    medium: Medium;
    address: string;
    body: Record<string, unknown>;
    clientSecretHash: string;
    sendAttempt: number;
    /** A refused request's (errors inhibited): its session must never be spent, nor block another. */
    refused: boolean;
  }): Promise<string> {
    const { id_server: _server, id_access_token: _token, ...forwarded } = input.body;
    const { sid } = await refusalsAsErrors(() =>
      this.client.requestToken(input.target.idServer, input.medium, forwarded, input.target.accessToken),
    );
    const now = this.clock.now();
    await this.store.sessions.recordProxiedSession({
      sid: proxiedSessionKey(input.target.idServer, sid),
      clientSecretHash: input.clientSecretHash,
      medium: input.medium,
      address: input.address,
      flow: input.flow,
      nextLink: null,
      sendAttempt: input.sendAttempt,
      tokenHash: '',
      createdAt: now,
      // The identity service keeps sessions for 24 hours.
      expiresAt: now + 24 * 3_600_000,
      idServer: input.target.idServer,
      refused: input.refused,
    });
    return sid;
  }

  /**
   * Asks the identity server whether `session` was validated, with the
   * user's access token. The address it answers must be the one the session
   * was requested for.
   */
  async validatedAt(session: SessionRecord, isSid: string, clientSecret: string, accessToken: string | undefined): Promise<number> {
    const idServer = session.idServer as string;
    if (!this.settings.trusted.includes(idServer)) {
      throw new ThreepidError('M_SERVER_NOT_TRUSTED', 'This homeserver no longer trusts that identity server');
    }
    if (!accessToken) throw new ThreepidError('M_MISSING_PARAM', 'id_access_token is required for this session');
    const proof = await refusalsAsErrors(() => this.client.getValidated3pid(idServer, isSid, clientSecret, accessToken));
    let address: string;
    try {
      address = canonicalAddress(session.medium, proof.address);
    } catch {
      throw new ThreepidError('M_NO_VALID_SESSION', 'The identity server validated another address');
    }
    if (proof.medium !== session.medium || address !== session.address) {
      throw new ThreepidError('M_NO_VALID_SESSION', 'The identity server validated another address');
    }
    return proof.validatedAt;
  }
}

/** A call the client would not make: a bad `id_access_token`, or an identity server at an address not allowed. */
async function refusalsAsErrors<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof IdentityCallRefused)) throw err;
    throw new ThreepidError(err.reason === 'bad-access-token' ? 'M_INVALID_PARAM' : 'M_SERVER_NOT_TRUSTED', err.message);
  }
}
