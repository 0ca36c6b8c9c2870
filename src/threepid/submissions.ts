import type { Medium, SessionFlow, SessionRecord } from '../model';
import type { Clock } from '../sources';
import type { ThreepidEvents } from '../observability/events';
import type { Storage } from './ports';
import { ThreepidError } from './errors';
import { OPAQUE_ID_PATTERN, type SubmitTokenRequest } from './request-body';
import { MAX_FAILED_ATTEMPTS, VALIDATED_SESSION_LIFETIME_MS } from './session-lifetimes';
import type { SessionLookup } from './session-lookup';
import { hashesEqual } from './tokens';

/** What the page an emailed link opens needs to know of its session. */
export interface LinkSession {
  readonly flow: SessionFlow;
  /** The language its email was written in; null when not known. */
  readonly language: string | null;
  /** The token (or, once validated, the proof) no longer works. */
  readonly expired: boolean;
}

/** A token accepted: where to send the person next, and what the page says. */
export interface SubmittedToken {
  readonly nextLink: string | null;
  readonly flow: SessionFlow;
  readonly language: string | null;
}

function submitted(session: SessionRecord): SubmittedToken {
  return { nextLink: session.nextLink, flow: session.flow, language: session.language };
}

/** Tokens submitted: by the emailed link's page, or to `submit_url`. */
export class TokenSubmissions {
  constructor(
    private readonly deps: {
      readonly store: Storage;
      readonly clock: Clock;
      readonly config: { readonly sms: { readonly maxTokenAttempts: number } };
      readonly events: ThreepidEvents;
      readonly lookup: SessionLookup;
    },
  ) {}

  private get lookup(): SessionLookup {
    return this.deps.lookup;
  }

  private get events(): ThreepidEvents {
    return this.deps.events;
  }

  /**
   * Checks a submitted token and marks the session validated. Submitting the
   * right token again after success succeeds again. Answers with the session's
   * next_link, if any.
   */
  async submitToken(request: SubmitTokenRequest, medium?: Medium): Promise<SubmittedToken> {
    const { store, clock } = this.deps;
    const session = await this.lookup.find(request.sid);
    if (!session || !this.lookup.secretMatches(session, request.clientSecret) || (medium && session.medium !== medium)) {
      throw new ThreepidError('M_INVALID_PARAM', 'No session matches this sid and client_secret');
    }
    const now = clock.now();
    const tokenMatches = this.lookup.tokenMatches(session, request.token);
    if (session.validatedAt !== null) {
      if (!tokenMatches) throw new ThreepidError('M_TOKEN_INCORRECT', 'The token is incorrect');
      return submitted(session);
    }
    if (now > session.expiresAt) throw new ThreepidError('M_SESSION_EXPIRED', 'This validation session has expired');
    const maxFailed = session.medium === 'msisdn' ? this.deps.config.sms.maxTokenAttempts : MAX_FAILED_ATTEMPTS;
    // Built only when thrown: a right token would pay for its stack trace.
    const tooMany = () => new ThreepidError('M_TOKEN_INCORRECT', 'Too many wrong tokens: request a new one');
    if (!tokenMatches) {
      if (!(await store.sessions.reserveTokenAttempt(session.sid, maxFailed))) throw tooMany();
      throw new ThreepidError('M_TOKEN_INCORRECT', 'The token is incorrect');
    }
    // The right token: the check is counted and the session validated by one write.
    const validated = await store.sessions.validateWithinAttempts(
      session.sid,
      session.tokenHash,
      maxFailed,
      now,
      now + VALIDATED_SESSION_LIFETIME_MS,
    );
    if (!validated) {
      // The session changed since it was read: answer for it as it is now.
      const again = await store.sessions.getSession(session.sid);
      if (again?.validatedAt != null && hashesEqual(again.tokenHash, session.tokenHash)) return submitted(again);
      if (again && !hashesEqual(again.tokenHash, session.tokenHash)) {
        throw new ThreepidError('M_TOKEN_INCORRECT', 'The token is incorrect');
      }
      if (again && now > again.expiresAt) throw new ThreepidError('M_SESSION_EXPIRED', 'This validation session has expired');
      throw tooMany();
    }
    this.events.sessionValidated(session.medium, session.flow);
    return submitted(session);
  }

  /**
   * The session an emailed link names, for its page: which flow and language,
   * and whether it has expired. Undefined when no session of ours matches the
   * sid and client_secret. The token is not checked here: that would be a
   * guess that no attempt limit counts.
   */
  async linkSession(sid: string, clientSecret: string): Promise<LinkSession | undefined> {
    if (!OPAQUE_ID_PATTERN.test(sid) || !OPAQUE_ID_PATTERN.test(clientSecret)) return undefined;
    const session = await this.lookup.find(sid);
    if (!session || session.idServer !== null || !this.lookup.secretMatches(session, clientSecret)) return undefined;
    return { flow: session.flow, language: session.language, expired: this.deps.clock.now() > session.expiresAt };
  }
}
