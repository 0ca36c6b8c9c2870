/**
 * The small data model every layer shares: what a flow, a medium and a
 * channel are, a session as stored, the messages the outbox carries,
 * where time and randomness come from, and the identity server's errors
 * that reach clients as they are. It imports nothing, so any layer may
 * import it.
 */

export type Medium = 'email' | 'msisdn';
export type Flow = 'register' | 'password' | '3pid';
/**
 * A session started through the identity-service v1 API by a homeserver
 * that runs its own flows (Synapse's msisdn delegate, Dendrite): it has no
 * flow of ours, and no flow of the JWT API can spend it.
 */
export const DELEGATED = 'delegated';
/** What a session records as its flow. */
export type SessionFlow = Flow | typeof DELEGATED;

/** A validation session as stored. Times are milliseconds since the epoch. */
export interface SessionRecord {
  readonly sid: string;
  /** Hash of the client_secret the session was requested with. */
  readonly clientSecretHash: string;
  readonly medium: Medium;
  /** Canonical address: case-folded email, or E.164 digits without `+`. */
  readonly address: string;
  /** The flow the session was requested for, and the only one it can be spent on. */
  readonly flow: SessionFlow;
  readonly nextLink: string | null;
  /** Highest `send_attempt` seen for this session. */
  readonly sendAttempt: number;
  /** Hash of the token last sent. */
  readonly tokenHash: string;
  /** Wrong tokens submitted so far. */
  readonly failedAttempts: number;
  readonly createdAt: number;
  /** Until validation: when the token stops working. After: when the proof stops working. */
  readonly expiresAt: number;
  readonly validatedAt: number | null;
  readonly consumedAt: number | null;
  /** The identity server that runs this session (proxy mode), or null for our own. */
  readonly idServer: string | null;
  /** The language its message was written in, for the page its link opens; null when unknown. */
  readonly language: string | null;
  /**
   * Started (proxy mode, errors inhibited) by a request the flow checks
   * refused: it answers as an allowed request's session until it would
   * prove the address, and then gets the refusal the request was spared.
   */
  readonly refused: boolean;
}

/** How a message travels. */
export type Channel = 'email' | 'sms';

/** The three emails (and the pages their links open), one per flow. */
export type EmailTemplate = 'registration' | 'password_reset' | 'add_threepid';

/**
 * What the outbox stores for one email: enough to render it at send time.
 * `link` carries the token, which is why the outbox clears the payload once
 * the message is sent or given up on.
 */
export interface EmailPayload {
  readonly template: EmailTemplate;
  readonly to: string;
  readonly link: string;
  /** The language to write it in; absent in messages queued before there were languages (the default one). */
  readonly language?: string;
}

/** What the outbox stores for one text message: the code is rendered into `templates/sms/code.txt` at send time. */
export interface SmsPayload {
  /** E.164 without `+`. */
  readonly to: string;
  readonly code: string;
  readonly language?: string;
}

/** Identity-server credentials a client gives with a session (`threepid_creds`). */
export interface IdentityCredentials {
  readonly idServer?: string;
  readonly idAccessToken?: string;
}

/**
 * An identity server's answer, to be given to the client as it is: a Matrix
 * error the identity server returned (status and body unchanged, e.g.
 * `403 M_TERMS_NOT_SIGNED`), or the module's own 502/504 when the identity
 * server failed to give a usable answer.
 */
export class IdentityServerError extends Error {
  constructor(
    readonly status: number,
    readonly body: Readonly<{ errcode: string; error?: string; [key: string]: unknown }>,
  ) {
    super(`identity server: ${status} ${body.errcode}`);
    this.name = 'IdentityServerError';
  }
}

/** What the client is told by requestToken. */
export interface TokenRequestResult {
  readonly sid: string;
  /** Absent when an identity server runs the session: the client submits the token there. */
  readonly submitUrl?: string;
  /** Medium-specific fields of the answer: `msisdn` and `intl_fmt` for phone numbers. */
  readonly responseFields?: Readonly<Record<string, string>>;
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

/**
 * Why the database cannot serve a request right now: it does not answer
 * (`unreachable`, `timeout`), another writer holds it past the busy timeout
 * (`busy`), or it has no room to write (`full`, an I/O error included). A
 * passing condition, not a bug: clients are told to try again later.
 */
export type UnavailableReason = 'unreachable' | 'timeout' | 'busy' | 'full';

/**
 * The database failed in a way that says nothing about the request. The
 * store raises it in place of the driver's error (kept as `cause`), so no
 * layer above the store knows a driver's codes.
 */
export class StoreUnavailable extends Error {
  constructor(
    readonly reason: UnavailableReason,
    /** The driver's own code and message, for the operator's log. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`database unavailable (${reason}): ${detail}`, options);
    this.name = 'StoreUnavailable';
  }
}
