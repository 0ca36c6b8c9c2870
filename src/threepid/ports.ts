import type { Channel, Medium, SessionFlow, SessionRecord } from '../model';

/**
 * What the domain needs from the parts below it, said in its own terms. The
 * store, the identity-server client and the homeserver client implement
 * these; the domain imports only this file and the data model, and the
 * module (the composition root) hands it the real parts.
 */

/** A session as first written: the counters and outcomes start empty. */
export type NewSession = Omit<SessionRecord, 'failedAttempts' | 'validatedAt' | 'consumedAt' | 'idServer' | 'language' | 'refused'> & {
  idServer?: string;
  language?: string | null;
  refused?: boolean;
};

/** What names an open session: the client secret (any of its stored forms), the address and the flow. */
export interface OpenSessionKey {
  readonly clientSecretHashes: readonly string[];
  readonly medium: Medium;
  readonly address: string;
  readonly flow: SessionFlow;
}

/** Validation sessions. Holds no rules: the domain decides, this reads and writes. */
export interface SessionRepository {
  /** The newest session not yet validated for this secret (any of its stored forms), address and flow, made at `createdSince` or later. */
  findOpenSession(key: OpenSessionKey & { createdSince: number }): Promise<SessionRecord | undefined>;
  /** Deletes the sessions not yet validated for this secret, address and flow that were made before `before`. */
  deleteOpenSessionsCreatedBefore(key: OpenSessionKey, before: number): Promise<void>;
  getSession(sid: string): Promise<SessionRecord | undefined>;
  /** `'conflict'` when another request opened the same session first. */
  insertSession(session: NewSession): Promise<'inserted' | 'conflict'>;
  /** False when the session already has that attempt or a higher one, or was validated. */
  replaceToken(
    sid: string,
    update: { tokenHash: string; sendAttempt: number; expiresAt: number; nextLink: string | null; language?: string | null },
  ): Promise<boolean>;
  /** Counts one token check; false when `max` checks were already made. */
  reserveTokenAttempt(sid: string, max: number): Promise<boolean>;
  /** Counts the check and marks the session validated at once; false past the limit or if already validated. */
  validateWithinAttempts(sid: string, tokenHash: string, max: number, validatedAt: number, expiresAt: number): Promise<boolean>;
  /** Records a session an identity server runs; a no-op when it is known already. */
  recordProxiedSession(session: NewSession & { idServer: string }): Promise<void>;
  markSessionValidated(sid: string, validatedAt: number, expiresAt: number): Promise<void>;
  /** Brings the session's expiry forward to `latest`; a no-op when it ends sooner. */
  capExpiry(sid: string, latest: number): Promise<void>;
  /** False when the session was already spent. */
  markSessionConsumed(sid: string, consumedAt: number): Promise<boolean>;
  deleteSessionsExpiredBefore(before: number): Promise<Array<{ medium: Medium; flow: SessionFlow; count: number }>>;
}

/** Messages waiting to go out. */
export interface Outbox {
  /** A `decoy` message is sealed and written like any other, and never sent. */
  enqueue(message: { id: string; channel: Channel; payload: unknown; now: number; decoy?: boolean }): Promise<void>;
  countCreatedSince(channel: Channel, since: number): Promise<{ count: number; oldestCreatedAt: number | null }>;
}

/** A 3PID held by a user in the module's own directory. */
export interface BindingRecord {
  readonly medium: Medium;
  readonly address: string;
  readonly userId: string;
  readonly validatedAt: number;
  readonly addedAt: number;
}

/** The module's own 3PID directory. */
export interface BindingRepository {
  find(medium: Medium, address: string): Promise<BindingRecord | undefined>;
  put(binding: BindingRecord): Promise<void>;
  listForUser(userId: string): Promise<BindingRecord[]>;
  deleteForUser(userId: string, medium: Medium, address: string): Promise<boolean>;
  delete(medium: Medium, address: string): Promise<boolean>;
}

/** A token bucket's state, as stored. */
export interface BucketState {
  readonly tokens: number;
  readonly updatedAt: number;
}

/**
 * Token buckets every replica shares: `decide` runs on the current state,
 * atomically, at `now` in the clock the buckets are timed by. Replicas share
 * the database's; a single process's store may use `processNow`.
 */
export interface BucketCounters {
  update<T>(
    key: string,
    processNow: number,
    decide: (current: BucketState | undefined, now: number) => { next: BucketState; result: T },
  ): Promise<T>;
  /** The bucket as it stands, and the time `update` would give `decide`: read alone, nothing locked or written. */
  peek(key: string, processNow: number): Promise<{ current: BucketState | undefined; now: number }>;
}

/** All the storage the domain uses, and transactions over it. */
export interface Storage {
  readonly sessions: SessionRepository;
  readonly outbox: Outbox;
  readonly bindings: BindingRepository;
  /** Runs `work` in one transaction: all of its writes land, or none. */
  transaction<T>(work: (storage: Storage) => Promise<T>): Promise<T>;
  /**
   * Inside `transaction`: waits for the lock named `name`, which every
   * replica shares, and holds it until the transaction ends. What was
   * committed under it before is visible once it is held.
   */
  lockUntilCommit(name: string): Promise<void>;
}

/**
 * An identity server's v2 API. Errors the identity server answered come back
 * as `IdentityServerError` (relayed to the client unchanged); a call refused
 * before it was made as {@link IdentityCallRefused}.
 */
export interface IdentityServerApi {
  requestToken(idServer: string, medium: Medium, body: object, accessToken: string): Promise<{ sid: string }>;
  getValidated3pid(
    idServer: string,
    sid: string,
    clientSecret: string,
    accessToken: string,
  ): Promise<{ medium: string; address: string; validatedAt: number }>;
}

/** The identity-server client would not make the call: a bad access token, or an address not allowed. */
export class IdentityCallRefused extends Error {
  constructor(
    readonly reason: 'bad-access-token' | 'address-not-allowed',
    message: string,
  ) {
    super(message);
    this.name = 'IdentityCallRefused';
  }
}

/**
 * Who a user is, and whether they know their password: what the account
 * endpoints need from a homeserver. Embedded, the host implements it from its
 * own tables; the sidecar asks the homeserver over its client API, and
 * throws {@link HomeserverUnavailable} when it cannot get an answer.
 */
export interface UserAuthority {
  /** The user ID an access token belongs to, or null for an unknown token. `clientIp`: who asks, as the module found it. */
  userIdForAccessToken(accessToken: string, clientIp?: string): Promise<string | null>;
  /** Whether `password` is the user's password. `clientIp`: who asks, as the module found it. */
  checkPassword(userId: string, password: string, clientIp?: string): Promise<boolean>;
}

/** The homeserver could not be asked, or gave an answer that makes no sense. */
export class HomeserverUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HomeserverUnavailable';
  }
}

/** The homeserver refused to answer for now (its `429`): try again after `retryAfterMs`, when it said. */
export class HomeserverRateLimited extends Error {
  constructor(readonly retryAfterMs: number | undefined) {
    super('The homeserver is rate-limiting these requests');
    this.name = 'HomeserverRateLimited';
  }
}
