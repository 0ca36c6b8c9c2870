/**
 * The monitoring kit (monitoring/): the alert rules load and fire as their
 * unit tests say, under Debian's promtool, and every metric the rules and
 * the Grafana dashboard name is one a running module exports.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { collectDefaultMetrics, register as globalRegistry } from 'prom-client';
import { parse } from 'yaml';
import { removeDir, startModule, tempDir, type Running } from '../support/harness';

const ROOT = path.resolve(__dirname, '../..');
const MONITORING = path.join(ROOT, 'monitoring');
const ENSURE = path.join(ROOT, 'test', 'support', 'ensure-debian-packages.sh');
/** Prometheus itself records `up` for every target. */
const FROM_PROMETHEUS = new Set(['up']);

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? String(err)}`);
  }
}

/**
 * The metric names a PromQL expression selects: what is left once strings,
 * label matchers, range and grouping lists, numbers, functions and keywords
 * are taken out.
 */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);
  const names = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)].filter((match) => !match[2]).map((match) => match[1]);
  return [...new Set(names.filter((name) => !keywords.has(name)))];
}

function alertExpressions(): string[] {
  const rules = parse(readFileSync(path.join(MONITORING, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
  return rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
}

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

function dashboard(): { panels: Panel[]; templating: { list: Array<{ query: { query: string } }> }; __inputs: Array<{ pluginId: string }> } {
  return JSON.parse(readFileSync(path.join(MONITORING, 'grafana-dashboard.json'), 'utf8'));
}

function dashboardExpressions(): string[] {
  const board = dashboard();
  const targets = board.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  // label_values(metric{…}, label): the metric is the first argument.
  const variables = board.templating.list.map((variable) => variable.query.query.replace(/^label_values\((.*),\s*\w+\)$/, '$1'));
  return [...targets, ...variables];
}

/** Every metric name in a Prometheus text-format scrape, with a histogram's series. */
function exportedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const line of scrape.split('\n')) {
    const typed = /^# TYPE (\S+) (\w+)$/.exec(line);
    if (typed) {
      names.add(typed[1]);
      if (typed[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(typed[1] + suffix);
    } else if (/^[a-zA-Z_:]/.test(line)) {
      names.add(line.split(/[{ ]/)[0]);
    }
  }
  return names;
}

describe('the alert rules, under promtool', () => {
  beforeAll(() => {
    execFileSync('bash', [ENSURE, 'promtool', 'prometheus'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  }, 620_000);

  it('load', () => {
    expect(promtool('check', 'rules', 'monitoring/alerts.yml')).toMatch(/SUCCESS: 5 rules found/);
  });

  it('fire on the series that should raise them, and stay quiet while all is well', () => {
    expect(promtool('test', 'rules', 'monitoring/alerts.test.yml')).toMatch(/SUCCESS/);
  });

  it('each wait a while, and carry a severity, a summary and a description', () => {
    const rules = parse(readFileSync(path.join(MONITORING, 'alerts.yml'), 'utf8')).groups.flatMap((group: { rules: unknown[] }) => group.rules);
    for (const rule of rules) {
      expect(rule).toMatchObject({
        for: expect.stringMatching(/^\d+m$/),
        labels: { severity: expect.stringMatching(/^(warning|critical)$/) },
        annotations: { summary: expect.any(String), description: expect.any(String) },
      });
    }
  });
});

describe('the Grafana dashboard', () => {
  it('is JSON a current Grafana imports: a Prometheus input, and timeseries and stat panels', () => {
    const board = dashboard();
    expect(board.__inputs).toEqual([expect.objectContaining({ pluginId: 'prometheus' })]);
    const kinds = new Set(board.panels.map((panel) => panel.type));
    expect([...kinds].sort()).toEqual(['row', 'stat', 'timeseries']);
    for (const panel of board.panels.filter((p) => p.type !== 'row')) expect(panel.targets?.length).toBeGreaterThan(0);
  });
});

describe('the metrics the kit names', () => {
  let dir: string;
  let hs: Running;
  let scrape: string;

  beforeAll(async () => {
    // A host that collects Node's metrics in its own (here the global) registry:
    // the module's registry is its own, so the standard names clash nowhere.
    collectDefaultMetrics();
    dir = tempDir('threepid-monitoring-');
    hs = await startModule({ database: { path: path.join(dir, 'db.sqlite') } }, { processMetrics: true });
    const response = await fetch(`${hs.internalUrl}/metrics`);
    expect(response.status).toBe(200);
    scrape = await response.text();
  });
  afterAll(async () => {
    await hs?.close();
    globalRegistry.clear();
    removeDir(dir);
  });

  it('are found in expressions as a reader would find them', () => {
    expect(metricNamesIn('up{job="threepid"} == 0 or threepid_ready == 0')).toEqual(['up', 'threepid_ready']);
    expect(
      metricNamesIn('histogram_quantile(0.95, sum by (route, le) (rate(threepid_http_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))'),
    ).toEqual(['threepid_http_request_duration_seconds_bucket']);
    expect(metricNamesIn('max by (job) (a_total) >= 0.8 * max by (job) (b_limit)')).toEqual(['a_total', 'b_limit']);
  });

  it('include Node process metrics under their standard names, beside the host’s own', async () => {
    const exported = exportedNames(scrape);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(exported).toContain(name);
    }
    expect([...exported].filter((name) => name.startsWith('threepid_process') || name.startsWith('threepid_nodejs'))).toEqual([]);
    expect(exportedNames(await globalRegistry.metrics())).toContain('process_cpu_seconds_total');
  });

  it('report the module ready, and the SMS cap and what went out against it', () => {
    expect(scrape).toMatch(/^threepid_ready 1$/m);
    expect(scrape).toMatch(/^threepid_sms_daily_limit 1000$/m);
    expect(scrape).toMatch(/^threepid_sms_sent_last_24h 0$/m);
  });

  it('are the ones the metrics reference lists, no more and no fewer', () => {
    const reference = readFileSync(path.join(ROOT, 'docs/reference/metrics.md'), 'utf8');
    const listed = [...reference.matchAll(/^\| `(threepid_\w+)` \|/gm)].map((match) => match[1]).sort();
    const exported = [...scrape.matchAll(/^# TYPE (threepid_\w+) /gm)].map((match) => match[1]).sort();
    expect(listed).toEqual(exported);
  });

  it.each([
    ['alert rules', alertExpressions],
    ['dashboard', dashboardExpressions],
  ])('in the %s are all ones the module exports', (_what, expressions) => {
    const exported = exportedNames(scrape);
    const named = expressions().flatMap(metricNamesIn);
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((name) => !exported.has(name) && !FROM_PROMETHEUS.has(name))).toEqual([]);
  });
});
