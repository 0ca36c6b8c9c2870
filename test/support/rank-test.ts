/**
 * The Mann-Whitney U test of two independent samples, by its normal
 * approximation (with the correction for ties): whether values of one tend to
 * be larger than values of the other, whatever their distribution. Timings
 * are skewed and have long tails, which a rank test does not mind.
 */
export interface RankTestResult {
  /** Pairs (a, b) with a > b, ties counting half. */
  readonly u: number;
  /** Standard score of `u`: positive when `a` tends to be larger. */
  readonly z: number;
  /** The probability that a value of `a` exceeds one of `b` (0.5: no tendency). */
  readonly superiority: number;
}

export function mannWhitneyU(a: readonly number[], b: readonly number[]): RankTestResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new Error('both samples need values');
  const all = [...a.map((value) => ({ value, fromA: true })), ...b.map((value) => ({ value, fromA: false }))];
  all.sort((x, y) => x.value - y.value);
  let rankSumA = 0;
  let tieTerm = 0;
  for (let start = 0; start < all.length; ) {
    let end = start;
    while (end + 1 < all.length && all[end + 1].value === all[start].value) end++;
    const tied = end - start + 1;
    // Ranks are 1-based; tied values share the mean of the ranks they span.
    const rank = (start + end) / 2 + 1;
    for (let i = start; i <= end; i++) if (all[i].fromA) rankSumA += rank;
    tieTerm += tied ** 3 - tied;
    start = end + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  return { u, z: variance === 0 ? 0 : (u - mean) / Math.sqrt(variance), superiority: u / (n1 * n2) };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
