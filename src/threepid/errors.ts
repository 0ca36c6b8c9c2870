/**
 * The Matrix error codes this module produces. Each one is mapped to an HTTP
 * status in exactly one place (`src/http/errors.ts`); the domain only ever
 * names the code.
 */
export type Errcode =
  /** The request body is not valid JSON. */
  | 'M_NOT_JSON'
  /** The body is JSON but not of the expected shape (e.g. not an object). */
  | 'M_BAD_JSON'
  /** A required parameter is missing. */
  | 'M_MISSING_PARAM'
  /** A parameter has a value the server does not accept. */
  | 'M_INVALID_PARAM'
  /** The request body is larger than the server accepts. */
  | 'M_TOO_LARGE'
  /** No such endpoint, or the method is not allowed on it. */
  | 'M_UNRECOGNIZED'
  /** Generic not-found, e.g. an unknown 3PID binding. */
  | 'M_NOT_FOUND'
  /** Too many requests; carries `retry_after_ms`. */
  | 'M_LIMIT_EXCEEDED'
  /** register / 3pid add: the address already belongs to a user. */
  | 'M_THREEPID_IN_USE'
  /** password reset: no user has this address. */
  | 'M_THREEPID_NOT_FOUND'
  /** The server's policy does not allow this address. */
  | 'M_THREEPID_DENIED'
  /** The server does not verify this kind of 3PID. */
  | 'M_THREEPID_MEDIUM_NOT_SUPPORTED'
  /** `id_server` names an identity server this homeserver does not trust. */
  | 'M_SERVER_NOT_TRUSTED'
  /** The token submitted for a session is wrong. */
  | 'M_TOKEN_INCORRECT'
  /** The validation session has expired. */
  | 'M_SESSION_EXPIRED'
  /** The session exists but its token has not been submitted yet. */
  | 'M_SESSION_NOT_VALIDATED'
  /** No session matches this `sid` and `client_secret`. */
  | 'M_NO_VALID_SESSION'
  /** The caller of the internal API is not authenticated. */
  | 'M_UNAUTHORIZED'
  /** The user's access token is unknown to the homeserver. */
  | 'M_UNKNOWN_TOKEN'
  /** The request needs a user's access token and has none. */
  | 'M_MISSING_TOKEN'
  /** A 3PID could not be added: its session did not prove the address. */
  | 'M_THREEPID_AUTH_FAILED'
  /** The request was refused for another reason. */
  | 'M_FORBIDDEN'
  /** The identity server's terms must be accepted first (relayed). */
  | 'M_TERMS_NOT_SIGNED'
  /** Anything unexpected; never carries internal details. */
  | 'M_UNKNOWN';

/**
 * A failure the client can be told about. Thrown by the domain, which knows
 * nothing of HTTP; the HTTP layer turns it into `{errcode, error, ...extra}`.
 */
export class ThreepidError extends Error {
  readonly errcode: Errcode;
  /** Extra top-level fields of the error body, e.g. `retry_after_ms`. */
  readonly extra: Readonly<Record<string, unknown>>;

  /**
   * The HTTP status, where it is not the errcode's usual one: Synapse
   * answers `400 M_FORBIDDEN` when 3PID changes are disabled, and clients
   * written against it expect that.
   */
  readonly status: number | undefined;

  constructor(errcode: Errcode, message: string, extra: Record<string, unknown> = {}, options: { status?: number } = {}) {
    super(message);
    this.name = 'ThreepidError';
    this.errcode = errcode;
    this.extra = Object.freeze({ ...extra });
    this.status = options.status;
  }
}

/** True when `err` is a {@link ThreepidError}, optionally with a given code. */
export function isThreepidError(err: unknown, errcode?: Errcode): err is ThreepidError {
  return err instanceof ThreepidError && (errcode === undefined || err.errcode === errcode);
}
