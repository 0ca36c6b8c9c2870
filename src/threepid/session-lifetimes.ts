/** How long sessions live, and how many wrong tokens they take. */

/** How long a validated session can still be spent (the identity service's 24 hours). */
export const VALIDATED_SESSION_LIFETIME_MS = 24 * 3_600_000;
/**
 * How long a delegated session still answers getValidated3pid after the
 * homeserver first read it. The homeserver never says that it used the
 * session, and Synapse's 3PID add replaces an existing owner, so the rest of
 * the 24 hours would let a captured sid and secret be replayed.
 */
export const DELEGATED_READ_WINDOW_MS = 10 * 60_000;
/** How long an expired session still answers `M_SESSION_EXPIRED` before it is purged. */
export const EXPIRED_SESSION_GRACE_MS = 24 * 3_600_000;
/** Wrong email tokens a session takes before it stops checking them (SMS: `sms.max_token_attempts`). */
export const MAX_FAILED_ATTEMPTS = 5;
/**
 * How long after it was made a session is still continued, for a token
 * lifetime: a repeated request answered with its sid, a higher send_attempt
 * given a new token on it. As long as a session never continued is kept
 * (its token's lifetime and the grace after it). Counted from creation, not
 * from the last token, so that repeats cannot keep a session alive for ever,
 * and with it the key its client secret's MAC names; a later request opens
 * a new session.
 */
export function continuationWindowMs(tokenLifetimeMs: number): number {
  return tokenLifetimeMs + EXPIRED_SESSION_GRACE_MS;
}
