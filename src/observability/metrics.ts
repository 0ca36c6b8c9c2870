import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../sources';
import type { DeliveryOutcome, LostLease } from '../delivery/outbox-worker';
import type { Channel } from '../store/outbox';
import type { Store } from '../store/store';
import type { Medium, SessionFlow } from '../store/sessions';
import type { ThreepidEvents } from './events';
import { ADDRESS_RULES } from '../policy/address-policy';

/** The methods a request is counted under by name; any other is `other`. */
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']);
/** The statuses the module answers, counted by code; any other by its class (`5xx`). */
const STATUSES: ReadonlySet<number> = new Set([200, 204, 302, 303, 400, 401, 403, 404, 405, 413, 415, 429, 500, 502, 503, 504]);
/**
 * Values fixed in the code (route templates, rate-limit rules), so there
 * are a few dozen; past `cap` something else is feeding them, and the rest
 * count as `other` rather than as a series each.
 */
class FirstSeen {
  private readonly seen = new Set<string>();
  constructor(private readonly cap: number) {}
  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.cap) return 'other';
    this.seen.add(value);
    return value;
  }
}

const MEDIUMS: ReadonlySet<string> = new Set(['email', 'msisdn']);
const FLOWS: ReadonlySet<string> = new Set(['register', 'password', '3pid', 'delegated']);
const CHANNELS: ReadonlySet<string> = new Set(['email', 'sms']);
const OUTCOMES: ReadonlySet<string> = new Set(['sent', 'retried', 'failed']);
/** Email transports and SMS senders; `custom` is a transport the host passed in. */
const PROVIDERS: ReadonlySet<string> = new Set(['smtp', 'file', 'log', 'http', 'twilio', 'sns', 'vonage', 'custom']);
const LOST_LEASES: ReadonlySet<string> = new Set(['sent_recorded', 'sent_twice', 'outcome_dropped']);
/** The address policy's rules (its config keys) and the SMS destination rules. */
const POLICY_RULES: ReadonlySet<string> = new Set([
  ...ADDRESS_RULES,
  'enable_3pid_changes',
  'disable_msisdn_registration',
  'sms_countries',
  'sms_number_types',
]);
const CHECK_POINTS: ReadonlySet<string> = new Set(['request', 'proof']);
const DAY_MS = 24 * 60 * 60 * 1000;

function oneOf(value: string, known: ReadonlySet<string>): string {
  return known.has(value) ? value : 'other';
}

function sessionLabels(medium: string, flow: string): { medium: string; flow: string } {
  return { medium: oneOf(medium, MEDIUMS), flow: oneOf(flow, FLOWS) };
}

function statusLabel(status: number): string {
  if (STATUSES.has(status)) return String(status);
  return Number.isInteger(status) && status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'other';
}

/**
 * The module's Prometheus metrics, in a registry of its own (a host's global
 * registry is left alone). Outbox depth and age are read from the database
 * at scrape time, so every replica reports the shared queue.
 */
export class Metrics implements ThreepidEvents {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly latency: Histogram<'route'>;
  private readonly sessions: Counter<'medium' | 'flow' | 'event'>;
  private readonly messages: Counter<'channel' | 'provider' | 'outcome'>;
  private readonly limited: Counter<'rule'>;
  private readonly refused: Counter<'rule' | 'medium' | 'at'>;
  private readonly lostLeases: Counter<'channel' | 'outcome'>;
  private readonly routes = new FirstSeen(100);
  private readonly rules = new FirstSeen(32);

  /** @internal The module builds it; hosts get it as `ThreepidModule.metrics`. */
  constructor(
    store: Store,
    clock: Clock,
    withProcessMetrics = true,
    /** What sends each channel's messages (`email.smtp` or file, `sms.sender`). */
    private readonly providers: Partial<Record<Channel, string>> = {},
    /** `sms.daily_limit` when SMS is enabled: the cap's gauges are shown beside the count. */
    smsDailyLimit?: number,
  ) {
    const registers = [this.registry];
    // Under their standard names, so stock Node.js dashboards match. The
    // registry is the module's own: a host collecting the same metrics in
    // its registry has no clash.
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'threepid_http_requests_total',
      help: 'HTTP requests answered, by route template, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'threepid_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route template',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.sessions = new Counter({
      name: 'threepid_sessions_total',
      help: 'Validation sessions created, validated and expired, by medium and flow',
      labelNames: ['medium', 'flow', 'event'],
      registers,
    });
    this.messages = new Counter({
      name: 'threepid_messages_total',
      help: 'Emails and text messages queued, sent, retried and failed (given up on), by channel and provider',
      labelNames: ['channel', 'provider', 'outcome'],
      registers,
    });
    this.limited = new Counter({
      name: 'threepid_rate_limited_total',
      help: 'Requests refused by a rate limit, by rule',
      labelNames: ['rule'],
      registers,
    });
    this.refused = new Counter({
      name: 'threepid_policy_refusals_total',
      help: 'Addresses refused by the address policy, by rule, medium, and where (request, or proof after the policy changed)',
      labelNames: ['rule', 'medium', 'at'],
      registers,
    });
    this.lostLeases = new Counter({
      name: 'threepid_outbox_lost_leases_total',
      help: 'Sends that ended after their outbox lease, by channel and what came of them (sent_recorded, sent_twice, outcome_dropped)',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    // A scrape collects every metric at once: both outbox gauges share the
    // one query that is in flight.
    let inFlight: ReturnType<Store['outbox']['pendingStats']> | undefined;
    const outboxStats = () =>
      (inFlight ??= store.outbox.pendingStats().finally(() => {
        inFlight = undefined;
      }));
    new Gauge({
      name: 'threepid_outbox_depth',
      help: 'Messages waiting in the outbox',
      registers,
      async collect() {
        this.set((await outboxStats()).pending);
      },
    });
    new Gauge({
      name: 'threepid_outbox_oldest_age_seconds',
      help: 'Age of the oldest message waiting in the outbox (0 when empty)',
      registers,
      async collect() {
        const oldest = (await outboxStats()).oldestPendingCreatedAt;
        this.set(oldest === null ? 0 : Math.max(0, clock.now() - oldest) / 1000);
      },
    });
    if (smsDailyLimit !== undefined) {
      new Gauge({ name: 'threepid_sms_daily_limit', help: 'Text messages the module may send in any 24 hours (sms.daily_limit)', registers }).set(smsDailyLimit);
      new Gauge({
        name: 'threepid_sms_sent_last_24h',
        help: 'Text messages queued in the last 24 hours, as the daily cap counts them',
        registers,
        async collect() {
          this.set((await store.outbox.countCreatedSince('sms', clock.now() - DAY_MS)).count);
        },
      });
    }
  }

  private readiness?: () => Promise<boolean>;

  /**
   * `threepid_ready` (1 or 0) reads `isReady` at scrape time: the check
   * `/ready` answers by, so the two never disagree.
   */
  reportReadiness(isReady: () => Promise<boolean>): void {
    const first = this.readiness === undefined;
    this.readiness = isReady;
    if (!first) return;
    const readyNow = async () => (await this.readiness?.()) === true;
    new Gauge({
      name: 'threepid_ready',
      help: 'Whether /ready answers 200: the database answers, writes succeed, and every migration is applied',
      registers: [this.registry],
      async collect() {
        this.set((await readyNow()) ? 1 : 0);
      },
    });
  }

  /**
   * Every label is one of a fixed set, so no client can add series: a
   * series is kept forever, and each costs memory and every scrape.
   */
  request(route: string, method: string, status: number, seconds: number): void {
    const routeLabel = this.routes.label(route);
    this.requests.inc({ route: routeLabel, method: oneOf(method, METHODS), status: statusLabel(status) });
    this.latency.observe({ route: routeLabel }, seconds);
  }

  sessionCreated(medium: Medium, flow: SessionFlow): void {
    this.sessions.inc({ ...sessionLabels(medium, flow), event: 'created' });
  }

  sessionValidated(medium: Medium, flow: SessionFlow): void {
    this.sessions.inc({ ...sessionLabels(medium, flow), event: 'validated' });
  }

  sessionsExpired(medium: Medium, flow: SessionFlow, count: number): void {
    this.sessions.inc({ ...sessionLabels(medium, flow), event: 'expired' }, count);
  }

  messageQueued(channel: Channel): void {
    this.messages.inc({ ...this.channelLabels(channel), outcome: 'queued' });
  }

  delivery(outcome: DeliveryOutcome, channel: Channel): void {
    this.messages.inc({ ...this.channelLabels(channel), outcome: oneOf(outcome, OUTCOMES) });
  }

  private channelLabels(channel: Channel): { channel: string; provider: string } {
    return { channel: oneOf(channel, CHANNELS), provider: oneOf(this.providers[channel] ?? 'other', PROVIDERS) };
  }

  leaseLost(outcome: LostLease, channel: Channel): void {
    this.lostLeases.inc({ channel: oneOf(channel, CHANNELS), outcome: oneOf(outcome, LOST_LEASES) });
  }

  rateLimited(rule: string): void {
    this.limited.inc({ rule: this.rules.label(rule) });
  }

  policyRefused(rule: string, medium: Medium, at: 'request' | 'proof'): void {
    this.refused.inc({ rule: oneOf(rule, POLICY_RULES), medium: oneOf(medium, MEDIUMS), at: oneOf(at, CHECK_POINTS) });
  }
}
