/**
 * Where time and randomness come from. Everything that reads the time or
 * draws random bytes takes a Clock, a MonotonicClock or a RandomSource, so
 * that tests can inject fakes and a seeded source; these are the real ones.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** Where randomness comes from; tests inject a seeded one. */
export interface RandomSource {
  bytes(length: number): Buffer;
}

/** Where time comes from, in milliseconds since the epoch; tests inject a fake. */
export interface Clock {
  now(): number;
}

/**
 * Where durations inside one process are measured: milliseconds from an
 * arbitrary origin, which no clock step (NTP, an operator's `date -s`)
 * moves. Meaningless to another process; tests inject a fake.
 */
export interface MonotonicClock {
  monotonicNow(): number;
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
export const processMonotonicClock: MonotonicClock = { monotonicNow: () => performance.now() };
