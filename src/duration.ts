const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration the way Synapse's config does: a number of milliseconds,
 * or a number followed by one of `ms`, `s`, `m`, `h`, `d`, `w` (`"1h"`, `"15m"`).
 * Returns `undefined` for anything else, so the caller can name the bad key.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(value);
  if (!match) return undefined;
  const ms = Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}
