/** How long sessions live, and how many wrong tokens they take. */

/** How long a validated session can still be spent (the identity service's 24 hours). */
export const VALIDATED_SESSION_LIFETIME_MS = 24 * 3_600_000;
/** How long an expired session still answers `M_SESSION_EXPIRED` before it is purged. */
export const EXPIRED_SESSION_GRACE_MS = 24 * 3_600_000;
/** Wrong email tokens a session takes before it stops checking them (SMS: `sms.max_token_attempts`). */
export const MAX_FAILED_ATTEMPTS = 5;
