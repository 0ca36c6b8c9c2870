/**
 * Where time and randomness come from. Everything that reads the time or
 * draws random bytes takes a Clock or a RandomSource, so that tests can
 * inject a fake clock and a seeded source; these are the real ones.
 */
import { randomFillSync } from 'node:crypto';

/** Where randomness comes from; tests inject a seeded one. */
export interface RandomSource {
  bytes(length: number): Buffer;
}

/** Where time comes from, in milliseconds since the epoch; tests inject a fake. */
export interface Clock {
  now(): number;
}

/** Random bytes fetched from the CSPRNG this many at a time. */
const POOL_BYTES = 4096;

/**
 * The system CSPRNG, read a page at a time: one `randomBytes(16)` call cost
 * about 5 µs, most of it per call, and requestToken makes several. Every byte
 * is handed out once, as a copy, so no caller sees another's.
 */
function pooledRandom(): RandomSource {
  const pool = Buffer.alloc(POOL_BYTES);
  let offset = POOL_BYTES;
  return {
    bytes(length) {
      if (length > POOL_BYTES) return randomFillSync(Buffer.alloc(length));
      if (offset + length > POOL_BYTES) {
        randomFillSync(pool);
        offset = 0;
      }
      const out = Buffer.from(pool.subarray(offset, offset + length));
      // What was handed out is not kept in the pool.
      pool.fill(0, offset, offset + length);
      offset += length;
      return out;
    },
  };
}

export const cryptoRandom: RandomSource = pooledRandom();
export const systemClock: Clock = { now: () => Date.now() };
