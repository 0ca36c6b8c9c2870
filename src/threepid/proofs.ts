import { DELEGATED, type Flow, type IdentityCredentials, type Medium, type SessionFlow, type SessionRecord } from '../model';
import type { Clock } from '../sources';
import { isBareHost } from '../hosts';
import type { Storage } from './ports';
import { ThreepidError } from './errors';
import { refusalOf } from './flows';
import { proxiedSessionKey, type IdentityProxy } from './identity-proxy';
import { OPAQUE_ID_PATTERN } from './request-body';
import { DELEGATED_READ_WINDOW_MS, VALIDATED_SESSION_LIFETIME_MS } from './session-lifetimes';
import type { SessionLookup } from './session-lookup';
import { parseThreepidAuth } from './uia';
import type { AddressChecks } from './address-checks';

/** A 3PID proven by a validated session. */
export interface ValidatedThreepid {
  readonly medium: Medium;
  readonly address: string;
  /** Milliseconds since the epoch. */
  readonly validatedAt: number;
}

/** What validated sessions prove, for the homeserver: checked, and spent once. */
export class Proofs {
  constructor(
    private readonly deps: {
      readonly store: Storage;
      readonly clock: Clock;
      readonly identityProxy?: IdentityProxy;
      readonly lookup: SessionLookup;
      /** The address policy as it is now, which a session must still pass to prove its address. */
      readonly checks: AddressChecks;
    },
  ) {}

  private get lookup(): SessionLookup {
    return this.deps.lookup;
  }

  /**
   * What a validated session proves, without spending it. Errors follow the
   * identity service's getValidated3pid: `M_NO_VALID_SESSION` (unknown sid,
   * wrong client_secret, already spent), `M_SESSION_EXPIRED`,
   * `M_SESSION_NOT_VALIDATED`.
   */
  async getValidated(sid: string, clientSecret: string, creds: IdentityCredentials = {}): Promise<ValidatedThreepid> {
    return toValidated(notRefused(await this.validatedSession(sid, clientSecret, creds)));
  }

  /**
   * The identity-service v1 `getValidated3pid`: what a delegated session
   * proves. The homeserver never says that it used one, so it is not spent;
   * instead, from the first answer on, it answers for
   * {@link DELEGATED_READ_WINDOW_MS} more at most. Sessions started through
   * the client-server API are not answered here: each session belongs to
   * the API that started it.
   */
  async getDelegatedValidated(sid: string, clientSecret: string): Promise<ValidatedThreepid> {
    const session = await this.validatedSession(sid, clientSecret, {}, DELEGATED);
    const readUntil = this.deps.clock.now() + DELEGATED_READ_WINDOW_MS;
    if (session.expiresAt > readUntil) await this.deps.store.sessions.capExpiry(session.sid, readUntil);
    return toValidated(session);
  }

  /**
   * Spends a validated session for `flow`, once: a session requested for a
   * password reset cannot be spent on registration, and the second spend of
   * any session fails.
   */
  async consume(sid: string, clientSecret: string, flow: Flow, creds: IdentityCredentials = {}): Promise<ValidatedThreepid> {
    const session = await this.validatedSession(sid, clientSecret, creds);
    if (session.flow !== flow) {
      throw new ThreepidError('M_NO_VALID_SESSION', `This session was requested for another flow (${session.flow})`);
    }
    notRefused(session);
    if (!(await this.deps.store.sessions.markSessionConsumed(session.sid, this.deps.clock.now()))) {
      throw new ThreepidError('M_NO_VALID_SESSION', 'This session has already been used');
    }
    return toValidated(session);
  }

  /**
   * The UIA stages `m.login.email.identity` and `m.login.msisdn`: checks the
   * auth dict's `threepid_creds` (or legacy `threepidCreds`) and answers the
   * 3PID it proves, spending the session when `consume` is set. A session of
   * the other medium proves nothing for this stage.
   */
  async checkThreepidAuth(auth: unknown, flow: Flow, consume: boolean): Promise<ValidatedThreepid> {
    const parsed = parseThreepidAuth(auth);
    const session = await this.validatedSession(parsed.sid, parsed.clientSecret, parsed.creds);
    if (session.medium !== parsed.medium) {
      throw new ThreepidError('M_THREEPID_AUTH_FAILED', `${parsed.type} needs a session for ${parsed.medium}`);
    }
    if (session.flow !== flow) {
      throw new ThreepidError('M_THREEPID_AUTH_FAILED', `This session was requested for another flow (${session.flow})`);
    }
    return consume ? this.consume(parsed.sid, parsed.clientSecret, flow, parsed.creds) : toValidated(notRefused(session));
  }

  private async validatedSession(
    sid: string,
    clientSecret: string,
    creds: IdentityCredentials,
    onlyFlow?: SessionFlow,
  ): Promise<SessionRecord> {
    if (!OPAQUE_ID_PATTERN.test(sid) || !OPAQUE_ID_PATTERN.test(clientSecret)) {
      throw new ThreepidError('M_INVALID_PARAM', 'sid and client_secret must match ' + OPAQUE_ID_PATTERN.source);
    }
    if (creds.idServer !== undefined && !isBareHost(creds.idServer)) {
      throw new ThreepidError('M_INVALID_PARAM', 'id_server must be a host name with an optional port');
    }
    const session =
      creds.idServer === undefined
        ? await this.lookup.find(sid)
        : await this.deps.store.sessions.getSession(proxiedSessionKey(creds.idServer.toLowerCase(), sid));
    // Each session answers only the API that started it: a delegated session
    // only getValidated3pid, and that API no other session.
    const otherApi = onlyFlow === undefined ? session?.flow === DELEGATED : session?.flow !== onlyFlow;
    if (!session || !this.lookup.secretMatches(session, clientSecret) || otherApi) {
      throw new ThreepidError('M_NO_VALID_SESSION', 'No session matches this sid and client_secret');
    }
    if (session.consumedAt !== null) throw new ThreepidError('M_NO_VALID_SESSION', 'This session has already been used');
    if (this.deps.clock.now() > session.expiresAt) {
      throw new ThreepidError('M_SESSION_EXPIRED', 'This validation session has expired');
    }
    if (session.idServer !== null && session.validatedAt === null) {
      if (!this.deps.identityProxy) throw new ThreepidError('M_NO_VALID_SESSION', 'Identity server sessions are not enabled');
      const validatedAt = await this.deps.identityProxy.validatedAt(session, sid, clientSecret, creds.idAccessToken);
      const now = this.deps.clock.now();
      await this.deps.store.sessions.markSessionValidated(session.sid, validatedAt, now + VALIDATED_SESSION_LIFETIME_MS);
      this.deps.checks.checkSession(session);
      return { ...session, validatedAt, expiresAt: now + VALIDATED_SESSION_LIFETIME_MS };
    }
    if (session.validatedAt === null) {
      throw new ThreepidError('M_SESSION_NOT_VALIDATED', 'This validation session has not been validated yet');
    }
    // The policy may have changed since the session began: what it refuses now, no session proves.
    this.deps.checks.checkSession(session);
    return session;
  }
}

/**
 * A refused request's session (proxy mode, errors inhibited) gets its
 * refusal only here, where an allowed request's would prove the address:
 * after the identity server said it was validated, which only the address's
 * owner can make it say. The refusal is the one the flow's rules give that
 * owner anyway (`/account/3pid/add` answers `M_THREEPID_IN_USE` for an
 * address bound meanwhile); every answer before it is an allowed session's.
 */
function notRefused(session: SessionRecord): SessionRecord {
  if (session.refused && session.flow !== DELEGATED) throw new ThreepidError(...refusalOf(session.flow));
  return session;
}

function toValidated(session: SessionRecord): ValidatedThreepid {
  return Object.freeze({ medium: session.medium, address: session.address, validatedAt: session.validatedAt ?? 0 });
}
