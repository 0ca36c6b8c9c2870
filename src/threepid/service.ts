import type { ServiceSettings } from './settings';
import { DELEGATED, type IdentityCredentials, type Clock, type EmailPayload, type EmailTemplate, type Flow, type Medium, type RandomSource, type SessionFlow, type SessionRecord, type SmsPayload } from '../model';
import type { Store } from '../store/store';
import type { ThreepidDirectory } from './directory';
import { ThreepidError } from './errors';
import { FLOWS, templateOf } from './flows';
import { isBareHost } from '../identity/client';
import { IdentityProxy, proxiedSessionKey } from './identity-proxy';
import { emailRules, msisdnRules, type MediumRules } from './mediums';
import { SmsPolicy } from './sms-policy';
import { noEvents, type ThreepidEvents } from '../observability/events';
import { parseThreepidAuth } from './uia';
import { checkNextLink } from './next-link';
import { EMAIL_VALIDATE_PATH, submitTokenPath } from './paths';
import { RateLimiter, type Limiter, type LimiterFactory } from './rate-limiter';
import {
  OPAQUE_ID_PATTERN,
  parseTokenRequestBase,
  requireObject,
  type SubmitTokenRequest,
} from './request-body';
import { hashSecret, hashesEqual, randomId, timeOrderedId, type IdCodec } from './tokens';

/** How long a validated session can still be spent (the identity service's 24 hours). */
export const VALIDATED_SESSION_LIFETIME_MS = 24 * 3_600_000;
/** How long an expired session still answers `M_SESSION_EXPIRED` before it is purged. */
export const EXPIRED_SESSION_GRACE_MS = 24 * 3_600_000;
/** Wrong email tokens a session takes before it stops checking them (SMS: `sms.max_token_attempts`). */
export const MAX_FAILED_ATTEMPTS = 5;

export interface ServiceDeps {
  readonly config: ServiceSettings;
  readonly store: Store;
  readonly directory: ThreepidDirectory;
  readonly clock: Clock;
  readonly random: RandomSource;
  /** Stored (time-ordered) session keys ↔ the opaque sids clients see. */
  readonly ids: IdCodec;
  /** Called after a message was committed to the outbox, to wake the worker. */
  readonly onEnqueued: () => void;
  /** Proxy mode: forwards requests that name an identity server. */
  readonly identityProxy?: IdentityProxy;
  /** Where rate-limit buckets live. Default: in memory. */
  readonly limiterFactory?: LimiterFactory;
  /** Told of sessions and messages, for metrics. */
  readonly events?: ThreepidEvents;
}

export type { IdentityCredentials } from '../model';

/** What the client is told by requestToken. */
export interface TokenRequestResult {
  readonly sid: string;
  /** Absent when an identity server runs the session: the client submits the token there. */
  readonly submitUrl?: string;
  /** Medium-specific fields of the answer: `msisdn` and `intl_fmt` for phone numbers. */
  readonly responseFields?: Readonly<Record<string, string>>;
}

/** A 3PID proven by a validated session. */
export interface ValidatedThreepid {
  readonly medium: Medium;
  readonly address: string;
  /** Milliseconds since the epoch. */
  readonly validatedAt: number;
}

/** Facts about the request that do not come from its body. */
export interface RequestContext {
  /** The client's address as rate limits key it: an IPv4 address, or an IPv6 /64 (`2001:db8:1:2::/64`). */
  readonly clientIp: string;
  /**
   * The language to write the message in (chosen from the request's
   * `Accept-Language`); default: `email.default_language`. Kept on the
   * session, so the page the link opens speaks it too.
   */
  readonly language?: string;
}

/** What the page an emailed link opens needs to know of its session. */
export interface LinkSession {
  readonly flow: SessionFlow;
  /** The language its email was written in; null when not known. */
  readonly language: string | null;
  /** The token (or, once validated, the proof) no longer works. */
  readonly expired: boolean;
}


/** A parallel request with the same secret and address changed the session between our read and our write. */
class LostRace extends Error {}

/** Attempts at a session write before a lost race is an error. */
const SESSION_WRITE_ATTEMPTS = 3;

/**
 * Runs a session write again when a parallel identical request won the race
 * (its insert hit the unique index on open sessions, or its update came
 * first): read again, the winner's session is then answered as it stands.
 */
async function raceSafe<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const lost = err instanceof LostRace;
      if (!lost || attempt >= SESSION_WRITE_ATTEMPTS) throw err;
    }
  }
}

/**
 * The domain: starts validation sessions, checks submitted tokens, and tells
 * the homeserver what a session proves. Knows nothing of HTTP.
 */
export class ThreepidService {
  private readonly limiter: Limiter;
  private readonly smsPolicy: SmsPolicy;
  private readonly mediums: Readonly<Record<Medium, MediumRules | undefined>>;
  private readonly events: ThreepidEvents;

  constructor(private readonly deps: ServiceDeps) {
    this.events = deps.events ?? noEvents;
    const limiter: LimiterFactory = deps.limiterFactory ?? ((_namespace, limit) => new RateLimiter(limit, deps.clock));
    this.limiter = limiter('rc_3pid_validation', deps.config.rateLimit);
    this.smsPolicy = new SmsPolicy(deps.config.sms, limiter, this.events);
    this.mediums = {
      email: deps.config.email.enabled ? emailRules : undefined,
      msisdn: deps.config.sms.enabled ? msisdnRules : undefined,
    };
  }

  /** requestToken for one of the client-server API's six endpoints. */
  async requestToken(flow: Flow, medium: Medium, input: unknown, context: RequestContext): Promise<TokenRequestResult> {
    return this.startValidation(flow, medium, input, context);
  }

  /**
   * requestToken for a homeserver through the identity-service v1 API
   * (Synapse's `account_threepid_delegates.msisdn`, Dendrite's trusted
   * identity server). The homeserver ran its own flow, in-use checks and
   * per-client limits first, so the session is {@link DELEGATED}: no
   * directory check, no per-IP limit (the caller's IP is the homeserver's),
   * no identity-server proxying, and no `submit_url` in the answer. The
   * per-address, per-number, per-range and daily limits and the country
   * rules apply as they do to every session.
   */
  async requestDelegatedToken(medium: Medium, input: unknown): Promise<TokenRequestResult> {
    return this.startValidation(DELEGATED, medium, input, {});
  }

  /**
   * The one requestToken routine behind every endpoint. Steps run in a
   * fixed order: check the body, rate-limit, check next_link, ask the
   * directory, then write the session and its message in one transaction.
   */
  private async startValidation(
    flow: SessionFlow,
    medium: Medium,
    input: unknown,
    context: Partial<RequestContext>,
  ): Promise<TokenRequestResult> {
    const { clientIp } = context;
    const rules = this.mediums[medium];
    if (!rules) throw new ThreepidError('M_THREEPID_MEDIUM_NOT_SUPPORTED', `This server does not verify ${medium}`);
    const body = requireObject(input);
    const request = parseTokenRequestBase(body, rules.addressFields);
    const parsed = rules.parseAddress(body);
    const address = parsed.address;
    const { config, identityProxy } = this.deps;
    // With proxying off, id_server is ignored (spec: "ignored when the homeserver handles 3PID verification").
    const proxyTarget =
      flow !== DELEGATED && config.identityServer.proxy && identityProxy && request.idServer !== undefined
        ? identityProxy.checkTarget(request.idServer, request.idAccessToken)
        : undefined;

    if (clientIp !== undefined) await this.limiter.take(`ip:${clientIp}`);
    await this.limiter.take(`${medium}:${address}`);
    if (medium === 'msisdn') await this.smsPolicy.checkDestination(parsed, clientIp);

    const nextLink =
      request.nextLink === undefined ? null : checkNextLink(request.nextLink, config.nextLinkDomainWhitelist);

    // A delegating homeserver keeps its own directory and checked it already.
    const refusal =
      flow === DELEGATED ? undefined : this.flowRefusal(flow, (await this.deps.directory.findUserId(medium, address)) !== null);
    // With errors inhibited, a refused request still writes a session (one
    // nothing can validate or spend) so that it costs what a real one costs:
    // its answer and its timing say nothing about who owns the address.
    if (refusal && !config.inhibit3pidErrors) throw refusal;
    const decoy = refusal !== undefined;

    if (proxyTarget && identityProxy && flow !== DELEGATED) {
      // A refused request is forwarded too: the identity server's answer
      // (its errors above all: a bad id_access_token, unsigned terms, being
      // down) is then the same whichever way the flow check went. Only the
      // session recorded here differs: a decoy's can never be spent.
      const sid = await identityProxy.requestToken({
        target: proxyTarget,
        flow,
        medium,
        address,
        body,
        clientSecretHash: hashSecret(decoy ? randomId(this.deps.random) : request.clientSecret),
        sendAttempt: request.sendAttempt,
      });
      return { sid, responseFields: parsed.responseFields };
    }

    const sid = await this.startOrContinueSession({
      flow,
      template: templateOf(flow),
      rules,
      address,
      clientSecret: request.clientSecret,
      sendAttempt: request.sendAttempt,
      nextLink,
      decoy,
      language: context.language ?? config.email.defaultLanguage,
    });
    // A delegating homeserver gives its clients its own submit_url (Synapse) or none (Dendrite).
    const submitUrl = flow === DELEGATED ? undefined : `${config.publicBaseurl}${submitTokenPath(medium)}`;
    return { sid: this.deps.ids.external(sid), submitUrl, responseFields: parsed.responseFields };
  }

  private flowRefusal(flow: Flow, bound: boolean): ThreepidError | undefined {
    if (FLOWS[flow].addressMustBeBound && !bound) {
      return new ThreepidError('M_THREEPID_NOT_FOUND', 'No account is associated with this address');
    }
    if (!FLOWS[flow].addressMustBeBound && bound) {
      return new ThreepidError('M_THREEPID_IN_USE', 'This address is already in use');
    }
    return undefined;
  }

  /**
   * `send_attempt` semantics (spec): the same secret and address with an
   * attempt not above the last one seen give back the same session and send
   * nothing; a higher attempt sends a new token on the same session.
   */
  private async startOrContinueSession(input: {
    flow: SessionFlow;
    template: EmailTemplate;
    rules: MediumRules;
    address: string;
    clientSecret: string;
    sendAttempt: number;
    nextLink: string | null;
    decoy: boolean;
    language: string;
  }): Promise<string> {
    const { clock, random, config, store } = this.deps;
    const clientSecretHash = hashSecret(input.clientSecret);
    const key = { clientSecretHash, medium: input.rules.medium, address: input.address, flow: input.flow };
    const enqueued = await raceSafe(() => store.transaction(async (tx) => {
      const now = clock.now();
      const existing = await tx.sessions.findOpenSession(key);
      if (existing && input.sendAttempt <= existing.sendAttempt) return { sid: existing.sid, sent: false, created: false };

      const token = input.rules.newToken(random);
      const fields = {
        // A decoy's token is never sent: nobody can validate it.
        tokenHash: hashSecret(input.decoy ? randomId(random) : token),
        sendAttempt: input.sendAttempt,
        expiresAt: now + this.tokenLifetime(input.rules.medium),
        nextLink: input.nextLink,
        language: input.language,
      };
      // Checked for decoys too: a refusal that only real requests get would tell them apart.
      if (input.rules.medium === 'msisdn') await this.smsPolicy.checkDailyCap(tx, now);
      const sid = existing?.sid ?? timeOrderedId(random, clock);
      if (existing) {
        if (!(await tx.sessions.replaceToken(sid, fields))) throw new LostRace();
      } else {
        // Lost to a parallel identical request: roll back, and find its session on the next try.
        if ((await tx.sessions.insertSession({ sid, ...key, ...fields, createdAt: now })) === 'conflict') throw new LostRace();
      }
      if (input.decoy) return { sid, sent: false, created: false };

      const payload: EmailPayload | SmsPayload =
        input.rules.medium === 'email'
          ? {
              template: input.template,
              to: input.address,
              link: this.emailLink(this.deps.ids.external(sid), input.clientSecret, token),
              language: input.language,
            }
          : { to: input.address, code: token, language: input.language };
      await tx.outbox.enqueue({ id: timeOrderedId(random, clock), channel: input.rules.channel, payload, now });
      return { sid, sent: true, created: !existing };
    }));
    if (enqueued.created) this.events.sessionCreated(input.rules.medium, input.flow);
    if (enqueued.sent) {
      this.events.messageQueued(input.rules.channel);
      this.deps.onEnqueued();
    }
    return enqueued.sid;
  }

  private tokenLifetime(medium: Medium): number {
    return medium === 'email' ? this.deps.config.email.validationTokenLifetimeMs : this.deps.config.sms.validationTokenLifetimeMs;
  }

  private emailLink(sid: string, clientSecret: string, token: string): string {
    const query = new URLSearchParams({ token, client_secret: clientSecret, sid });
    return `${this.deps.config.publicBaseurl}${EMAIL_VALIDATE_PATH}?${query.toString()}`;
  }

  /**
   * Checks a submitted token and marks the session validated. Submitting the
   * right token again after success succeeds again. Answers with the session's
   * next_link, if any.
   */
  async submitToken(request: SubmitTokenRequest, medium?: Medium): Promise<SubmittedToken> {
    const { store, clock } = this.deps;
    const session = await this.findSession(request.sid);
    if (!session || !this.secretMatches(session, request.clientSecret) || (medium && session.medium !== medium)) {
      throw new ThreepidError('M_INVALID_PARAM', 'No session matches this sid and client_secret');
    }
    const now = clock.now();
    const tokenMatches = hashesEqual(session.tokenHash, hashSecret(request.token));
    if (session.validatedAt !== null) {
      if (!tokenMatches) throw new ThreepidError('M_TOKEN_INCORRECT', 'The token is incorrect');
      return submitted(session);
    }
    if (now > session.expiresAt) throw new ThreepidError('M_SESSION_EXPIRED', 'This validation session has expired');
    const maxFailed = session.medium === 'msisdn' ? this.deps.config.sms.maxTokenAttempts : MAX_FAILED_ATTEMPTS;
    const tooMany = new ThreepidError('M_TOKEN_INCORRECT', 'Too many wrong tokens: request a new one');
    if (!tokenMatches) {
      if (!(await store.sessions.reserveTokenAttempt(session.sid, maxFailed))) throw tooMany;
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
      throw tooMany;
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
    const session = await this.findSession(sid);
    if (!session || session.idServer !== null || !this.secretMatches(session, clientSecret)) return undefined;
    return { flow: session.flow, language: session.language, expired: this.deps.clock.now() > session.expiresAt };
  }

  /**
   * What a validated session proves, without spending it. Errors follow the
   * identity service's getValidated3pid: `M_NO_VALID_SESSION` (unknown sid,
   * wrong client_secret, already spent), `M_SESSION_EXPIRED`,
   * `M_SESSION_NOT_VALIDATED`.
   */
  async getValidated(sid: string, clientSecret: string, creds: IdentityCredentials = {}): Promise<ValidatedThreepid> {
    return toValidated(await this.validatedSession(sid, clientSecret, creds));
  }

  /**
   * The identity-service v1 `getValidated3pid`: what a delegated session
   * proves, for as long as a validated session lives (the homeserver never
   * says that it used one, so it is never spent). Sessions started through
   * the client-server API are not answered here: each session belongs to
   * the API that started it.
   */
  async getDelegatedValidated(sid: string, clientSecret: string): Promise<ValidatedThreepid> {
    return toValidated(await this.validatedSession(sid, clientSecret, {}, DELEGATED));
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
    return consume ? this.consume(parsed.sid, parsed.clientSecret, flow, parsed.creds) : toValidated(session);
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
        ? await this.findSession(sid)
        : await this.deps.store.sessions.getSession(proxiedSessionKey(creds.idServer.toLowerCase(), sid));
    if (!session || !this.secretMatches(session, clientSecret) || (onlyFlow !== undefined && session.flow !== onlyFlow)) {
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
      return { ...session, validatedAt, expiresAt: now + VALIDATED_SESSION_LIFETIME_MS };
    }
    if (session.validatedAt === null) {
      throw new ThreepidError('M_SESSION_NOT_VALIDATED', 'This validation session has not been validated yet');
    }
    return session;
  }

  /** Our own session behind a sid a client gives (see {@link IdCodec}). */
  private async findSession(sid: string): Promise<SessionRecord | undefined> {
    for (const key of this.deps.ids.candidates(sid)) {
      const session = await this.deps.store.sessions.getSession(key);
      if (session) return session;
    }
    return undefined;
  }

  private secretMatches(session: SessionRecord, clientSecret: string): boolean {
    return hashesEqual(session.clientSecretHash, hashSecret(clientSecret));
  }

  /** Deletes sessions whose grace period after expiry is over. Returns how many. */
  async purgeExpiredSessions(): Promise<number> {
    const purged = await this.deps.store.sessions.deleteSessionsExpiredBefore(this.deps.clock.now() - EXPIRED_SESSION_GRACE_MS);
    for (const { medium, flow, count } of purged) this.events.sessionsExpired(medium, flow, count);
    return purged.reduce((total, entry) => total + entry.count, 0);
  }
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

function toValidated(session: SessionRecord): ValidatedThreepid {
  return Object.freeze({ medium: session.medium, address: session.address, validatedAt: session.validatedAt ?? 0 });
}
