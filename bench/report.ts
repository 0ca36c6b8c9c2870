/** One measured scenario. Latencies are absent for the outbox, which is not request/response. */
export interface Row {
  readonly name: string;
  readonly description: string;
  /** Requests per second, or emails per second for the outbox. */
  readonly rate: number;
  readonly unit: 'req/s' | 'emails/s' | 'ms';
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly peakRssBytes: number;
  /** Requests (or emails) counted in the measurement. */
  readonly count: number;
  /** The server's CPU time (user + system) per request or email: steadier than the rate on a shared machine. */
  readonly cpuMicrosPerItem: number;
  /** Rate over the baseline's (HTTP rows only). */
  readonly ratio?: number;
  /**
   * The bare route measured right before this scenario, in the same way:
   * `ratio` and the RSS target are against it, so that a shared machine
   * drifting over the run's minutes does not skew a comparison.
   */
  readonly baseline?: { readonly rate: number; readonly peakRssBytes: number };
  /** Emails the SMTP sink received per second while the scenario's requests ran. */
  readonly emailsPerSecondAlongside?: number;
  /** Emails of the scenario's requests not yet at the sink when the load ended, and how long they then took to arrive. */
  readonly backlog?: { readonly emails: number; readonly drainSeconds: number };
  /** Shown, but not judged against a target. */
  readonly diagnostic?: boolean;
}

export interface Target {
  readonly description: string;
  /** Undefined when a scenario it needs was not run. */
  readonly met?: boolean;
  readonly measured: string;
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function pad(cells: string[][]): string {
  const widths = cells[0].map((_, column) => Math.max(...cells.map((row) => row[column].length)));
  return cells
    .map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  '))
    .join('\n');
}

export function formatTable(rows: readonly Row[]): string {
  const header = ['scenario', 'rate', 'unit', 'p50 ms', 'p99 ms', 'peak RSS MB', 'paired bare req/s', '× bare', 'server CPU µs/item', 'emails/s alongside', 'backlog at end'];
  const body = rows.map((row) => [
    row.name,
    row.rate.toFixed(0),
    row.unit,
    row.p50Ms === undefined ? '-' : String(row.p50Ms),
    row.p99Ms === undefined ? '-' : String(row.p99Ms),
    row.peakRssBytes === 0 ? '-' : mb(row.peakRssBytes),
    row.baseline === undefined ? '-' : row.baseline.rate.toFixed(0),
    row.ratio === undefined ? '-' : row.ratio.toFixed(2),
    Number.isNaN(row.cpuMicrosPerItem) ? '-' : row.cpuMicrosPerItem.toFixed(0),
    row.emailsPerSecondAlongside === undefined ? '-' : row.emailsPerSecondAlongside.toFixed(0),
    row.backlog === undefined ? '-' : `${row.backlog.emails} in ${row.backlog.drainSeconds.toFixed(2)} s`,
  ]);
  return pad([header, ...body]);
}

export function formatTargets(targets: readonly Target[]): string {
  return targets
    .map((target) => `${target.met === undefined ? 'NOT RUN' : target.met ? 'MET    ' : 'NOT MET'}  ${target.description}: ${target.measured}`)
    .join('\n');
}

/** The issue's targets, judged on what was measured. */
export function judge(rows: readonly Row[]): Target[] {
  const find = (name: string) => rows.find((row) => row.name === name);
  const bare = find('bare');
  const ratioTarget = (name: string, minimum: number): Target => {
    const row = find(name);
    return {
      description: `${name} ≥ ${minimum}× bare`,
      met: row?.ratio === undefined ? undefined : row.ratio >= minimum,
      measured: row?.ratio === undefined ? 'not measured' : `${row.ratio.toFixed(2)}×`,
    };
  };

  // Each against its own paired baseline, so drift between the two runs cancels out.
  const small = find('requestToken@1k');
  const large = find('requestToken@1M');
  // The two rates, as the issue states the target; each to its paired bare is shown beside it (the pairs drift apart on a shared machine).
  const scaling = small && large ? large.rate / small.rate : undefined;
  const pairedScaling = small?.ratio !== undefined && large?.ratio !== undefined ? large.ratio / small.ratio : undefined;

  const moduleRows = rows.filter((row) => row.unit === 'req/s' && row.name !== 'bare' && !row.diagnostic);
  const rssOf = (row: Row) => ({
    module: row.peakRssBytes,
    bare: row.baseline?.peakRssBytes ?? bare?.peakRssBytes ?? Number.NaN,
  });
  const worst = moduleRows
    .map(rssOf)
    .filter((pair) => Number.isFinite(pair.bare))
    .sort((a, b) => b.module / b.bare - a.module / a.bare)[0];
  const rssRatio = worst ? worst.module / worst.bare : undefined;

  const outbox = find('outbox');
  const startup = find('startup');
  const withEmail = find('requestToken');
  return [
    {
      ...ratioTarget('requestToken', 0.4),
      description: 'requestToken, new address, its email delivered during the run ≥ 0.4× bare, backlog at the end < 1 s of sending',
      met: withEmail?.ratio === undefined || !withEmail.backlog ? undefined : withEmail.ratio >= 0.4 && withEmail.backlog.drainSeconds < 1,
      measured:
        withEmail?.ratio === undefined || !withEmail.backlog
          ? 'not measured'
          : `${withEmail.ratio.toFixed(2)}×, ${withEmail.backlog.emails} emails left at the end, sent in ${withEmail.backlog.drainSeconds.toFixed(2)} s`,
    },
    ratioTarget('requestToken-same', 0.8),
    ratioTarget('requestToken-429', 0.8),
    ratioTarget('submit', 0.8),
    {
      description: "module's peak RSS under load ≤ 1.25× bare's",
      met: rssRatio === undefined ? undefined : rssRatio <= 1.25,
      measured:
        rssRatio === undefined || !worst
          ? 'not measured'
          : `worst pair ${mb(worst.module)} MB vs ${mb(worst.bare)} MB = ${rssRatio.toFixed(2)}×`,
    },
    {
      description: 'process start to first answered request < 500 ms',
      met: startup === undefined ? undefined : startup.rate < 500,
      measured: startup === undefined ? 'not measured' : `${startup.rate.toFixed(0)} ms (median)`,
    },
    {
      description: 'outbox ≥ 500 emails/s',
      met: outbox === undefined ? undefined : outbox.rate >= 500,
      measured: outbox === undefined ? 'not measured' : `${outbox.rate.toFixed(0)} emails/s`,
    },
    {
      description: 'requestToken@1M ≥ 0.9× requestToken@1k',
      met: scaling === undefined ? undefined : scaling >= 0.9,
      measured:
        scaling === undefined
          ? 'not measured'
          : `${scaling.toFixed(2)}× (${pairedScaling === undefined ? '' : `${pairedScaling.toFixed(2)}× each to its paired bare, `}CPU per request ${small && large ? (small.cpuMicrosPerItem / large.cpuMicrosPerItem).toFixed(2) : '?'}×)`,
    },
  ];
}
