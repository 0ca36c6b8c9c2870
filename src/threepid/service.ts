import type { ServiceSettings } from './settings';
import { processMonotonicClock, type Clock, type MonotonicClock, type RandomSource } from '../sources';
import { DELEGATED, type RequestContext, type TokenRequestResult, type IdentityCredentials, type EmailPayload, type EmailTemplate, type Flow, type Medium, type SessionFlow, type SmsPayload, type SessionRecord } from '../model';
import type { OpenSessionKey, Storage } from './ports';
import type { ThreepidDirectory } from './directory';
import { ThreepidError } from './errors';
import { flowRefusal, templateOf } from './flows';
import { IdentityProxy } from './identity-proxy';
import { emailRules, msisdnRules, type MediumRules } from './mediums';
import { SmsPolicy } from './sms-policy';
import { AddressChecks } from './address-checks';
import type { AddressPolicy } from '../policy/address-policy';
import { noEvents, type ThreepidEvents } from '../observability/events';
import { Proofs, type ValidatedThreepid } from './proofs';
import { continuationWindowMs, EXPIRED_SESSION_GRACE_MS } from './session-lifetimes';
import { SessionLookup } from './session-lookup';
import { TokenSubmissions, type LinkSession, type SubmittedToken } from './submissions';
import { checkNextLink } from './next-link';
import { EMAIL_VALIDATE_PATH, submitTokenPath } from './paths';
import { LostRace, raceSafe } from './race';
import { RateLimiter, type Limiter, type LimiterFactory } from './rate-limiter';
import { parseTokenRequestBase, requireObject, type SubmitTokenRequest } from './request-body';
import { randomId, timeOrderedId, type IdCodec, type SecretMacs } from './tokens';

export { DELEGATED_READ_WINDOW_MS, EXPIRED_SESSION_GRACE_MS, MAX_FAILED_ATTEMPTS, VALIDATED_SESSION_LIFETIME_MS } from './session-lifetimes';
export type { ValidatedThreepid } from './proofs';
export type { IdentityCredentials, RequestContext, TokenRequestResult } from '../model';
export type { LinkSession, SubmittedToken } from './submissions';

export interface ServiceDeps {
  readonly config: ServiceSettings;
  readonly store: Storage;
  readonly directory: ThreepidDirectory;
  readonly clock: Clock;
  /** What the in-memory rate limits measure refills by. Default: the process's monotonic clock. */
  readonly monotonicClock?: MonotonicClock;
  readonly random: RandomSource;
  /** Stored (time-ordered) session keys ↔ the opaque sids clients see. */
  readonly ids: IdCodec;
  /** The stored forms of tokens and client secrets (keyed: a copy of the database confirms nothing). */
  readonly secrets: SecretMacs;
  /** Called after a message was committed to the outbox, to wake the worker. */
  readonly onEnqueued: () => void;
  /** Proxy mode: forwards requests that name an identity server. */
  readonly identityProxy?: IdentityProxy;
  /** Where rate-limit buckets live. Default: in memory. */
  readonly limiterFactory?: LimiterFactory;
  /** Told of sessions and messages, for metrics. */
  readonly events?: ThreepidEvents;
  /** Who may use which address. Default: everyone. */
  readonly addressPolicy?: AddressPolicy;
}

/** A requestToken that starts or continues a session of our own, checked. */
type SessionRequest = { flow: SessionFlow; template: EmailTemplate; rules: MediumRules; address: string; clientSecret: string; sendAttempt: number; nextLink: string | null; decoy: boolean; language: string };
/** What a session's write works from: the open session read before it (if any), and when. */
type SessionWrite = { key: Omit<OpenSessionKey, 'clientSecretHashes'> & { clientSecretHash: string }; lookupKey: OpenSessionKey; existing: SessionRecord | undefined; now: number; createdSince: number };

/**
 * The domain: starts validation sessions, checks submitted tokens, and tells
 * the homeserver what a session proves. Knows nothing of HTTP.
 */
export class ThreepidService {
  private readonly limiter: Limiter;
  private readonly smsPolicy: SmsPolicy;
  private readonly mediums: Readonly<Record<Medium, MediumRules | undefined>>;
  private readonly events: ThreepidEvents;
  private readonly submissions: TokenSubmissions;
  private readonly proofs: Proofs;
  private readonly checks: AddressChecks;

  constructor(private readonly deps: ServiceDeps) {
    this.events = deps.events ?? noEvents;
    const limiter: LimiterFactory = deps.limiterFactory ?? ((_namespace, limit) => new RateLimiter(limit, deps.monotonicClock ?? processMonotonicClock));
    this.limiter = limiter('rc_3pid_validation', deps.config.rateLimit);
    this.smsPolicy = new SmsPolicy(deps.config.sms, limiter, this.events);
    this.mediums = {
      email: deps.config.email.enabled ? emailRules : undefined,
      msisdn: deps.config.sms.enabled ? msisdnRules : undefined,
    };
    this.checks = new AddressChecks(deps.addressPolicy, deps.config.policy, this.events);
    const lookup = new SessionLookup(deps.store, deps.ids, deps.secrets);
    this.submissions = new TokenSubmissions({ store: deps.store, clock: deps.clock, config: deps.config, events: this.events, lookup });
    this.proofs = new Proofs({ store: deps.store, clock: deps.clock, identityProxy: deps.identityProxy, lookup, checks: this.checks });
  }

  /** requestToken for one of the client-server API's six endpoints. */
  async requestToken(flow: Flow, medium: Medium, input: unknown, context: RequestContext): Promise<TokenRequestResult> {
    return this.startValidation(flow, medium, input, context);
  }

  /** Asked before the body is read, spending nothing: a client over its per-IP limit is refused whatever it sends. */
  checkClientLimit(clientIp: string): void | Promise<void> {
    return this.limiter.check?.(`ip:${clientIp}`);
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
   * (The client router asks {@link checkClientLimit} before the body is read.)
   */
  private async startValidation(flow: SessionFlow, medium: Medium, input: unknown, context: Partial<RequestContext>): Promise<TokenRequestResult> {
    const { clientIp } = context;
    const rules = this.mediums[medium];
    if (!rules) throw new ThreepidError('M_THREEPID_MEDIUM_NOT_SUPPORTED', `This server does not verify ${medium}`);
    this.checks.checkFlow(flow, medium, 'request');
    const body = requireObject(input);
    const request = parseTokenRequestBase(body, rules.addressFields);
    const parsed = rules.parseAddress(body);
    const address = parsed.address;
    // Before anything is counted, stored or sent: the policy is no secret, and a refusal costs nothing.
    this.checks.checkAddress(flow, medium, address, 'request');
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
      flow === DELEGATED ? undefined : flowRefusal(flow, (await this.deps.directory.findUserId(medium, address)) !== null);
    // With errors inhibited, a refused request still writes a session (one
    // nothing can validate or spend) so that it costs what a real one costs:
    // its answer and its timing say nothing about who owns the address.
    // Only built when thrown: an error's stack trace alone would make a decoy slower.
    if (refusal && !config.inhibit3pidErrors) throw new ThreepidError(...refusal);
    const decoy = refusal !== undefined;

    if (proxyTarget && identityProxy && flow !== DELEGATED) {
      // A refused request is forwarded too: the identity server's answer
      // (its errors above all: a bad id_access_token, unsigned terms, being
      // down) is then the same whichever way the flow check went. Its session
      // is recorded as an allowed one's, marked refused: proving it answers
      // the same until the identity server says it was validated.
      const sid = await identityProxy.requestToken({
        target: proxyTarget,
        flow,
        medium,
        address,
        body,
        clientSecretHash: this.deps.secrets.mac(request.clientSecret),
        sendAttempt: request.sendAttempt,
        refused: decoy,
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

  /**
   * `send_attempt` semantics (spec): the same secret and address with an
   * attempt not above the last one seen give back the same session and send
   * nothing; a higher attempt sends a new token on the same session. Only
   * within the session's continuation window: a request after it opens a
   * new session under the current key.
   */
  private async startOrContinueSession(input: SessionRequest): Promise<string> {
    const { clock, random, config, store, secrets } = this.deps;
    // Under every key of the ring: a repeat after a rotation finds its session (send_attempt idempotency).
    // The current key's form comes first, and is the one a new session is written under.
    const clientSecretHashes = secrets.storedForms(input.clientSecret);
    const key = { clientSecretHash: clientSecretHashes[0], medium: input.rules.medium, address: input.address, flow: input.flow };
    const lookupKey = { ...key, clientSecretHashes };
    const enqueued = await raceSafe(async () => {
      const now = clock.now();
      const createdSince = now - continuationWindowMs(this.tokenLifetime(input.rules.medium));
      // Read outside the write transaction: a repeat writes nothing. A change after the read
      // fails the writes' own conditions below (a lost race), and is read on the next try.
      const existing = await store.sessions.findOpenSession({ ...lookupKey, createdSince });
      if (existing && input.sendAttempt <= existing.sendAttempt) return { sid: existing.sid, written: false, sent: false, created: false };
      return store.transaction((tx) => this.writeSession(tx, input, { key, lookupKey, existing, now, createdSince }));
    });
    if (enqueued.created) this.events.sessionCreated(input.rules.medium, input.flow);
    if (enqueued.sent) this.events.messageQueued(input.rules.channel);
    if (enqueued.written) this.deps.onEnqueued();
    return enqueued.sid;
  }

  /** A new session, or a new token for `existing`, and its message, in one transaction. */
  private async writeSession(tx: Storage, input: SessionRequest, at: SessionWrite) {
    const { clock, random, secrets } = this.deps;
    const { key, lookupKey, existing, now, createdSince } = at;
    const token = input.rules.newToken(random);
    const fields = {
      // A decoy's token is never sent: nobody can validate it.
      tokenHash: secrets.mac(input.decoy ? randomId(random) : token),
      sendAttempt: input.sendAttempt,
      expiresAt: now + this.tokenLifetime(input.rules.medium),
      nextLink: input.nextLink,
      language: input.language,
    };
    // Checked for decoys too: a refusal that only real requests get would tell them apart.
    if (input.rules.medium === 'msisdn') await this.smsPolicy.checkDailyCap(tx, now);
    const sid = existing?.sid ?? timeOrderedId(random, clock);
    if (existing) {
      // Given a higher attempt or validated since it was read: lost to a parallel request.
      if (!(await tx.sessions.replaceToken(sid, fields))) throw new LostRace();
    } else {
      // One past its window gives way to the new session (it would hold the unique index on open sessions).
      await tx.sessions.deleteOpenSessionsCreatedBefore(lookupKey, createdSince);
      // Lost to a parallel identical request: roll back, and find its session on the next try.
      if ((await tx.sessions.insertSession({ sid, ...key, ...fields, createdAt: now })) === 'conflict') throw new LostRace();
    }
    const payload: EmailPayload | SmsPayload =
      input.rules.medium === 'email'
        ? { template: input.template, to: input.address, link: this.emailLink(this.deps.ids.external(sid), input.clientSecret, token), language: input.language }
        : { to: input.address, code: token, language: input.language };
    // A decoy's message is built, sealed and written like a real one, and
    // wakes the worker too, so that the answer takes as long; its row is
    // one the worker never claims (and its token validates nothing).
    await tx.outbox.enqueue({ id: timeOrderedId(random, clock), channel: input.rules.channel, payload, now, decoy: input.decoy });
    return { sid, written: true, sent: !input.decoy, created: !existing && !input.decoy };
  }

  private tokenLifetime(medium: Medium): number {
    return medium === 'email' ? this.deps.config.email.validationTokenLifetimeMs : this.deps.config.sms.validationTokenLifetimeMs;
  }

  private emailLink(sid: string, clientSecret: string, token: string): string {
    const query = new URLSearchParams({ token, client_secret: clientSecret, sid });
    return `${this.deps.config.publicBaseurl}${EMAIL_VALIDATE_PATH}?${query.toString()}`;
  }

  /** Checks a submitted token and marks the session validated (see {@link TokenSubmissions}). */
  submitToken(request: SubmitTokenRequest, medium?: Medium): Promise<SubmittedToken> {
    return this.submissions.submitToken(request, medium);
  }

  /** The session an emailed link names, for its page. */
  linkSession(sid: string, clientSecret: string): Promise<LinkSession | undefined> {
    return this.submissions.linkSession(sid, clientSecret);
  }

  /** What a validated session proves, without spending it (see {@link Proofs}). */
  getValidated(sid: string, clientSecret: string, creds: IdentityCredentials = {}): Promise<ValidatedThreepid> {
    return this.proofs.getValidated(sid, clientSecret, creds);
  }

  /** The identity-service v1 `getValidated3pid`, for delegated sessions only. */
  getDelegatedValidated(sid: string, clientSecret: string): Promise<ValidatedThreepid> {
    return this.proofs.getDelegatedValidated(sid, clientSecret);
  }

  /** Spends a validated session for `flow`, once. */
  consume(sid: string, clientSecret: string, flow: Flow, creds: IdentityCredentials = {}): Promise<ValidatedThreepid> {
    return this.proofs.consume(sid, clientSecret, flow, creds);
  }

  /** The UIA stages `m.login.email.identity` and `m.login.msisdn`. */
  checkThreepidAuth(auth: unknown, flow: Flow, consume: boolean): Promise<ValidatedThreepid> {
    return this.proofs.checkThreepidAuth(auth, flow, consume);
  }

  /** Deletes sessions whose grace period after expiry is over. Returns how many. */
  async purgeExpiredSessions(): Promise<number> {
    const purged = await this.deps.store.sessions.deleteSessionsExpiredBefore(this.deps.clock.now() - EXPIRED_SESSION_GRACE_MS);
    for (const { medium, flow, count } of purged) this.events.sessionsExpired(medium, flow, count);
    return purged.reduce((total, entry) => total + entry.count, 0);
  }
}

