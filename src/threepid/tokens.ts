import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Where randomness comes from; tests inject a seeded one. */
export interface RandomSource {
  bytes(length: number): Buffer;
}

/** Where time comes from, in milliseconds since the epoch; tests inject a fake. */
export interface Clock {
  now(): number;
}

export const cryptoRandom: RandomSource = { bytes: (length) => randomBytes(length) };
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A 128-bit random identifier in base64url: 22 characters, all inside the
 * spec's opaque-identifier alphabet `[0-9a-zA-Z.=_-]`. Used for `sid`s and
 * email tokens.
 */
export function randomId(random: RandomSource): string {
  return random.bytes(16).toString('base64url');
}

/**
 * Hashes a token, or a client_secret, for storage. Tokens carry 128 random
 * bits, so a fast unsalted hash is enough: there is nothing to brute-force,
 * and the hot path stays cheap.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Compares two hashes from {@link hashSecret} in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
