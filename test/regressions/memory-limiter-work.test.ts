// Regression: once more than 10,000 of its buckets were refilling, the
// in-memory rate limiter walked all of them on every successful take, on the
// event loop (10,000 takes cost 1.7 s at 20,000 keys, 6.5 s at 60,000; an
// IPv6 /48 holds 65,536 /64 keys), and it held as many buckets as keys came.
// Then, capped at 100,000 buckets, it refused every key without one while all
// were refilling: a flood of fresh keys locked every new client out for a
// whole refill (28 minutes at the defaults), again and again.
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

it('holds the ceiling by evicting the least recently used bucket, so a flood of fresh keys locks nobody out', () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter(LIMIT, clock);
  const spendBurst = (key: string) => {
    for (let i = 0; i < LIMIT.burstCount; i++) limiter.take(key);
  };
  // A flood from fresh keys (a /48 has 65,536 /64s), each spending one token of its own burst.
  const flood = (from: number, count: number) => {
    for (let i = from; i < from + count; i++) limiter.take(`ip:2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::`);
  };
  // Finding the oldest by walking a Map from its front steps over every entry deleted since the
  // table's last rehash (V8 keeps them until then), which no count of walks sees: evicting that way
  // cost up to 0.4 ms a take at the ceiling. So at the ceiling no take walks a Map at all (the
  // counting walks a few entries of its own as it ends).
  expect(mapEntriesWalked(() => flood(0, 150_000))).toBeLessThan(10);
  expect(bucketsHeld(limiter)).toBe(CEILING);

  // A client that spent its burst amid the flood is still held to it, a ceiling's worth of fresh keys later less one.
  spendBurst('ip:192.0.2.7');
  flood(150_000, CEILING - 1);
  expect(refusal(() => limiter.take('ip:192.0.2.7')).errcode).toBe('M_LIMIT_EXCEEDED');
  expect(bucketsHeld(limiter)).toBe(CEILING);

  // A newcomer is served, not refused until the flood's buckets refill; the map stays at the ceiling.
  limiter.take('ip:198.51.100.1');
  expect(bucketsHeld(limiter)).toBe(CEILING);
  spendBurst('ip:198.51.100.2');
  expect(refusal(() => limiter.take('ip:198.51.100.2')).errcode).toBe('M_LIMIT_EXCEEDED');
  expect(bucketsHeld(limiter)).toBe(CEILING);
});

