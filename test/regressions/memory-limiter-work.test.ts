// Regression: once more than 10,000 of its buckets were refilling, the
// in-memory rate limiter walked all of them on every successful take, on the
// event loop (10,000 takes cost 1.7 s at 20,000 keys, 6.5 s at 60,000; an
// IPv6 /48 holds 65,536 /64 keys), and it held as many buckets as keys came.
// The work is counted here, not timed: every Map entry walked during takes.
import { ThreepidError } from '../../src/threepid/errors';
import { RateLimiter } from '../../src/threepid/rate-limiter';
import { FakeClock } from '../support/harness';

/** Synapse's default `rc_3pid_validation`: a bucket refills in 5 / 0.003 s, about 28 minutes. */
const LIMIT = { perSecond: 0.003, burstCount: 5 };
const REFILL_MS = (LIMIT.burstCount / LIMIT.perSecond) * 1000;
/** The ceiling the README states. */
const CEILING = 100_000;

type Walk = (this: Map<unknown, unknown>, ...args: any[]) => any;

/** How many Map entries `work` walks, by any of Map's ways of walking them. */
function mapEntriesWalked(work: () => void): number {
  let walked = 0;
  const proto = Map.prototype as unknown as Record<PropertyKey, Walk>;
  const names: PropertyKey[] = ['entries', 'keys', 'values', Symbol.iterator];
  const originals = new Map<PropertyKey, Walk>(names.map((name) => [name, proto[name]]));
  for (const [name, original] of originals) {
    proto[name] = function (this: Map<unknown, unknown>) {
      const inner = original.call(this) as Iterator<unknown>;
      const counted = {
        next: () => {
          walked += 1;
          return inner.next();
        },
        [Symbol.iterator]: () => counted,
      };
      return counted;
    };
  }
  const forEach = Map.prototype.forEach;
  Map.prototype.forEach = function (this: Map<unknown, unknown>, callback, thisArg) {
    forEach.call(this, (...args) => {
      walked += 1;
      callback.apply(thisArg, args);
    });
  };
  try {
    work();
  } finally {
    for (const [name, original] of originals) proto[name] = original;
    Map.prototype.forEach = forEach;
  }
  return walked;
}

function bucketsHeld(limiter: RateLimiter): number {
  return limiter['buckets'].size;
}

function refusal(take: () => void): ThreepidError {
  try {
    take();
  } catch (err) {
    expect(err).toBeInstanceOf(ThreepidError);
    return err as ThreepidError;
  }
  throw new Error('expected the take to be refused');
}

it('walks a bounded number of buckets per take, however many are refilling', () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter(LIMIT, clock);
  const takes = 1_000;
  const walked = mapEntriesWalked(() => {
    for (let i = 0; i < 20_000; i++) limiter.take(`ip:2001:db8:${i.toString(16)}::`);
    for (let i = 0; i < takes; i++) limiter.take(`ip:2001:db9:${i.toString(16)}::`);
  });
  expect(walked).toBeLessThanOrEqual(4 * (20_000 + takes));

  // Once they have refilled, the buckets are forgotten a few per take, without a walk through all of them.
  clock.advance(REFILL_MS);
  // Refused takes too: a client hammering its own empty bucket drives the forgetting as well.
  const forgetting = mapEntriesWalked(() => {
    for (let i = 0; i < 20_000; i++) {
      try {
        limiter.take('ip:192.0.2.1');
      } catch {
        /* refused after its burst */
      }
    }
  });
  expect(forgetting).toBeLessThanOrEqual(4 * 20_000);
  expect(bucketsHeld(limiter)).toBe(1);
});

it('holds at most the ceiling, and makes room only by forgetting buckets that are full again', () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter(LIMIT, clock);
  // The attacker spends a whole burst first, then floods with fresh keys (a /48 has 65,536 /64s).
  for (let i = 0; i < LIMIT.burstCount; i++) limiter.take('ip:2001:db8:1:1::');
  let refused = 0;
  // Node's own depth of stack traces, not jest's 100: the flood's refusals are most of this test's time.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 10;
  try {
    for (let i = 0; i < 200_000; i++) {
      try {
        limiter.take(`ip:2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::`);
      } catch (err) {
        if (err instanceof ThreepidError) refused += 1;
      }
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  expect(bucketsHeld(limiter)).toBeLessThanOrEqual(CEILING);
  expect(refused).toBeGreaterThanOrEqual(200_000 - CEILING);

  // No bucket was dropped to make room: the attacker's is still empty.
  expect(refusal(() => limiter.take('ip:2001:db8:1:1::')).errcode).toBe('M_LIMIT_EXCEEDED');
  // A new key waits until the least recently used bucket (the flood's first, one token spent) is full again.
  const wait = refusal(() => limiter.take('ip:198.51.100.1')).extra.retry_after_ms as number;
  expect(wait).toBe(Math.ceil(1000 / LIMIT.perSecond));
  clock.advance(wait - 1);
  expect(() => limiter.take('ip:198.51.100.1')).toThrow(ThreepidError);
  clock.advance(1);
  limiter.take('ip:198.51.100.1');
  expect(bucketsHeld(limiter)).toBeLessThanOrEqual(CEILING);
});
