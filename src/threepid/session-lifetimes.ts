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
