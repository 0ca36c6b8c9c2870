import { isThreepidError } from '../threepid/errors';
import type { Limiter } from '../threepid/rate-limiter';

/** A limiter that reports each of its refusals (`M_LIMIT_EXCEEDED`) as `rule`, then refuses as before. */
export function countRefusals(limiter: Limiter, rule: string, refused: (rule: string) => void): Limiter {
  const report = (err: unknown) => {
    if (isThreepidError(err, 'M_LIMIT_EXCEEDED')) refused(rule);
    throw err;
  };
  const counted = (ask: (key: string) => void | Promise<void>) => (key: string) => {
    try {
      const asked = ask(key);
      return asked instanceof Promise ? asked.catch(report) : asked;
    } catch (err) {
      return report(err);
    }
  };
  const check = limiter.check;
  return {
    take: counted((key) => limiter.take(key)),
    ...(check && { check: counted((key) => check.call(limiter, key)) }),
  };
}
