import { ThreepidError } from '../../../src/threepid/errors';
import { RateLimiter } from '../../../src/threepid/rate-limiter';
import { FakeClock } from '../../support/harness';
import { thrown } from '../../support/thrown';

function refusal(limiter: RateLimiter, key: string): ThreepidError {
  try {
    limiter.take(key);
  } catch (err) {
    expect(err).toBeInstanceOf(ThreepidError);
    return err as ThreepidError;
  }
  throw new Error(`expected ${key} to be refused`);
}

describe('RateLimiter', () => {
  let clock: FakeClock;
  beforeEach(() => {
    clock = new FakeClock();
  });

  it('allows a burst, then refuses with M_LIMIT_EXCEEDED and retry_after_ms', () => {
    const limiter = new RateLimiter({ perSecond: 1, burstCount: 3 }, clock);
    for (let i = 0; i < 3; i++) limiter.take('ip:1.2.3.4');
    const err = refusal(limiter, 'ip:1.2.3.4');
    expect(err.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(err.extra).toEqual({ retry_after_ms: 1000 });
  });

  it('keeps refusing until a token has refilled, and says how long is left', () => {
    const limiter = new RateLimiter({ perSecond: 1, burstCount: 1 }, clock);
    limiter.take('k');
    clock.advance(250);
    expect(refusal(limiter, 'k').extra.retry_after_ms).toBe(750);
    clock.advance(500);
    expect(refusal(limiter, 'k').extra.retry_after_ms).toBe(250);
    clock.advance(250);
    expect(() => limiter.take('k')).not.toThrow();
  });

  it('refills over time at per_second, up to burst_count', () => {
    const limiter = new RateLimiter({ perSecond: 2, burstCount: 4 }, clock);
    for (let i = 0; i < 4; i++) limiter.take('k');
    expect(() => limiter.take('k')).toThrow(ThreepidError);

    clock.advance(1000); // two tokens back
    limiter.take('k');
    limiter.take('k');
    expect(() => limiter.take('k')).toThrow(ThreepidError);

    clock.advance(3_600_000); // a long rest refills to the burst, not beyond
    for (let i = 0; i < 4; i++) limiter.take('k');
    expect(() => limiter.take('k')).toThrow(ThreepidError);
  });

  it('does not charge refused requests', () => {
    const limiter = new RateLimiter({ perSecond: 1, burstCount: 1 }, clock);
    limiter.take('k');
    for (let i = 0; i < 10; i++) expect(() => limiter.take('k')).toThrow(ThreepidError);
    clock.advance(1000);
    expect(() => limiter.take('k')).not.toThrow();
  });

  it('keeps keys independent', () => {
    const limiter = new RateLimiter({ perSecond: 1, burstCount: 2 }, clock);
    limiter.take('ip:1.1.1.1');
    limiter.take('ip:1.1.1.1');
    expect(() => limiter.take('ip:1.1.1.1')).toThrow(ThreepidError);
    expect(() => limiter.take('ip:2.2.2.2')).not.toThrow();
    expect(() => limiter.take('email:alice@example.com')).not.toThrow();
    expect(() => limiter.take('email:alice@example.com')).not.toThrow();
    expect(() => limiter.take('email:alice@example.com')).toThrow(ThreepidError);
  });

  it('computes retry_after_ms for slow refill rates (the default 0.003/s)', () => {
    const limiter = new RateLimiter({ perSecond: 0.003, burstCount: 5 }, clock);
    for (let i = 0; i < 5; i++) limiter.take('k');
    expect(refusal(limiter, 'k').extra.retry_after_ms).toBe(Math.ceil(1000 / 0.003));
  });

  it('does not refill when the clock goes backwards', () => {
    const limiter = new RateLimiter({ perSecond: 1, burstCount: 1 }, clock);
    limiter.take('k');
    clock.advance(-10_000);
    expect(() => limiter.take('k')).toThrow(ThreepidError);
  });

  it('check refuses as take would, spending nothing', () => {
    const limiter = new RateLimiter({ perSecond: 1, burstCount: 2 }, clock);
    for (let i = 0; i < 5; i++) limiter.check('k');
    limiter.take('k');
    limiter.check('k');
    limiter.take('k');
    const checked = thrown(ThreepidError, () => limiter.check('k'));
    expect(checked).toEqual(refusal(limiter, 'k'));
    expect(checked.extra).toEqual({ retry_after_ms: 1000 });
    clock.advance(1000);
    limiter.check('k');
    limiter.take('k');
  });

  it('builds its refusals without a stack trace (they come in floods), and leaves the depth of others as it was', () => {
    const limiter = new RateLimiter({ perSecond: 1, burstCount: 1 }, clock);
    limiter.take('k');
    const depth = Error.stackTraceLimit;
    for (const err of [refusal(limiter, 'k'), thrown(ThreepidError, () => limiter.check('k'))]) {
      expect(err.stack).not.toMatch(/\n\s+at /);
      expect(err.message).toBe('Too many requests');
    }
    expect(Error.stackTraceLimit).toBe(depth);
    expect(new ThreepidError('M_UNKNOWN', 'other').stack).toMatch(/\n\s+at /);
  });
});
