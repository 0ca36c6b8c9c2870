import { isThreepidError } from '../threepid/errors';
import type { Limiter } from '../threepid/rate-limiter';

/** A limiter that reports each of its refusals (`M_LIMIT_EXCEEDED`) as `rule`, then refuses as before. */
export function countRefusals(limiter: Limiter, rule: string, refused: (rule: string) => void): Limiter {
  const report = (err: unknown) => {
    if (isThreepidError(err, 'M_LIMIT_EXCEEDED')) refused(rule);
    throw err;
  };
  return {
    take(key) {
      try {
        const taken = limiter.take(key);
        return taken instanceof Promise ? taken.catch(report) : taken;
      } catch (err) {
        return report(err);
      }
    },
  };
}
