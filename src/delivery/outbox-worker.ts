import type { Logger } from '../logger';
import type { Clock, RandomSource } from '../sources';
import type { Channel, OutboxMessage } from '../store/outbox';
import type { Store } from '../store/store';
import { PermanentDeliveryError, SendDeadlineError } from './errors';
import { abortGraceMs, sendWithinDeadline } from './send-deadline';
import { SENT_WRITE_RETRY_MS, SentRecorder } from './sent-recorder';

/**
 * Delivers one message of a channel; throws to fail (see {@link PermanentDeliveryError}).
 * `signal` aborts when the send's deadline passes: the sender drops its
 * connection and answers soon, as sent if the send had ended after all.
 */
export type ChannelSender = (payload: unknown, messageId: string, signal: AbortSignal) => Promise<void>;

export interface OutboxWorkerOptions {
  readonly store: Store;
  readonly senders: Partial<Record<Channel, ChannelSender>>;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  /** Attempts before a message is given up on, per channel. */
  readonly maxAttempts: Readonly<Record<Channel, number>>;
  /** Messages of one channel in flight at once; more are claimed as these end. */
  readonly concurrency?: number;
  /** How long a claim lasts: a message whose sender died becomes due again after it. Longer than `sendTimeoutMs`. */
  readonly leaseMs?: number;
  /** How long one send may take in all; then it is a temporary failure. */
  readonly sendTimeoutMs?: number;
  /** What sends each channel's messages (`smtp`, `twilio`…), named when one is given up on. */
  readonly providers?: Partial<Record<Channel, string>>;
  /** Counts outcomes, for the operator's view. */
  readonly onOutcome?: (outcome: DeliveryOutcome, channel: Channel) => void;
  /** Counts outcomes that ended after their lease had (see {@link LostLease}). */
  readonly onLeaseLost?: (what: LostLease, channel: Channel) => void;
  /** Pauses before each new try of a failed "sent" write; one try more than pauses. */
  readonly sentWriteRetryMs?: readonly number[];
}

export type DeliveryOutcome = 'sent' | 'retried' | 'failed';

/**
 * A send that ended after its lease: `sent_recorded` (sent, and recorded,
 * as no one else had finished it), `sent_twice` (another claim had already
 * sent it), `outcome_dropped` (a failure not written: another claim holds
 * the message now).
 */
export type LostLease = 'sent_recorded' | 'sent_twice' | 'outcome_dropped';

const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 30 * 60_000;
/** How long stop() waits for the sends in flight. */
const STOP_WAIT_MS = 10_000;
/** Even with nothing due, look again this often: another process may have written. */
const IDLE_POLL_MS = 30_000;
const DEFAULTS = { concurrency: 8, leaseMs: 60_000, sendTimeoutMs: 45_000 };

/** One channel's share of the worker: its sends in flight, and whether it is claiming. */
interface Lane {
  inFlight: number;
  claiming: boolean;
  again: boolean;
}

/**
 * The outbox worker: claims due messages, sends them, and records the
 * outcome — sent (payload cleared), retried later with exponential backoff
 * and jitter, or failed for good. Each channel claims and sends on its own,
 * up to `concurrency` messages at once, claiming more as each send ends, so
 * a slow email never holds a text. Every send has a deadline shorter than
 * its lease, so a healthy replica never outlives the lease it sends under.
 * It is woken when a message is enqueued and otherwise sleeps until the
 * next one is due; it never busy-polls.
 */
export class OutboxWorker {
  private readonly sent: SentRecorder;
  private readonly lanes = new Map<Channel, Lane>();
  private readonly busy = new Set<Promise<unknown>>();
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly sendTimeoutMs: number;
  private timer: { handle: NodeJS.Timeout; at: number } | undefined;
  private retryNow = false;
  private stopped = true;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.concurrency = options.concurrency ?? DEFAULTS.concurrency;
    this.leaseMs = options.leaseMs ?? DEFAULTS.leaseMs;
    this.sendTimeoutMs = options.sendTimeoutMs ?? Math.min(DEFAULTS.sendTimeoutMs, this.leaseMs / 2);
    if (this.sendTimeoutMs >= this.leaseMs) throw new Error('the outbox lease must be longer than the send deadline');
    for (const channel of Object.keys(options.maxAttempts) as Channel[]) this.lanes.set(channel, { inFlight: 0, claiming: false, again: false });
    this.sent = new SentRecorder((claims) => options.store.outbox.markSent(claims, options.clock.now()), options.sentWriteRetryMs ?? SENT_WRITE_RETRY_MS);
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Claims what is due now, on every channel (or right after the claim in flight). */
  wake(): void {
    if (this.stopped) return;
    this.clearTimer();
    for (const channel of this.lanes.keys()) this.pump(channel);
  }

  /** Claims now as if every pending message were due, whatever its backoff. */
  flush(): void {
    this.retryNow = true;
    this.wake();
  }

  /**
   * Stops claiming and waits for the sends in flight; unsent messages stay
   * in the outbox. Sends that have not ended after `waitMs` are left behind,
   * so that shutting down cannot hang: their messages are still leased, and
   * are sent again once the lease ends.
   */
  async stop(waitMs = STOP_WAIT_MS): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    let timer: NodeJS.Timeout | undefined;
    const idle = async () => {
      while (this.busy.size > 0) await Promise.allSettled([...this.busy]);
      return false;
    };
    const gaveUp = await Promise.race([idle(), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), waitMs)))]);
    clearTimeout(timer);
    if (gaveUp) this.options.logger.warn({ waited_ms: waitMs }, 'outbox round still running at stop; its messages stay leased');
  }

  /** Keeps `work` for stop() to wait on; a failure of it is logged, never left unhandled. */
  private track(work: Promise<unknown>): void {
    const settled = work.catch((err: unknown) => this.options.logger.error({ err: describe(err) }, 'outbox outcome not recorded; the message is retried once its lease ends'));
    this.busy.add(settled);
    void settled.finally(() => this.busy.delete(settled));
  }

  /** Claims for `channel` until its lane is full or nothing is due; one claim at a time per channel. */
  private pump(channel: Channel): void {
    const lane = this.lanes.get(channel)!;
    if (lane.claiming) {
      lane.again = true;
      return;
    }
    lane.claiming = true;
    lane.again = false;
    const claiming = this.claimInto(channel, lane)
      .catch((err: unknown) => {
        this.options.logger.error({ channel, err: (err as Error).message }, 'outbox claim failed; retrying soon');
        this.schedule(FIRST_RETRY_MS);
      })
      .finally(() => {
        lane.claiming = false;
        if (lane.again) this.pump(channel);
      });
    this.track(claiming);
  }

  private async claimInto(channel: Channel, lane: Lane): Promise<void> {
    const { store, clock, random } = this.options;
    if (this.retryNow) {
      this.retryNow = false;
      await store.outbox.makePendingDue(clock.now());
    }
    while (!this.stopped && lane.inFlight < this.concurrency) {
      const limit = this.concurrency - lane.inFlight;
      const token = random.bytes(12).toString('hex');
      const claimed = await store.outbox.claimDue({ channel, now: clock.now(), limit, leaseMs: this.leaseMs, token });
      for (const message of claimed) {
        lane.inFlight += 1;
        this.track(
          this.deliver(message).finally(() => {
            lane.inFlight -= 1;
            if (!this.stopped) this.pump(channel);
          }),
        );
      }
      if (claimed.length < limit) break;
    }
    // A full lane is woken by its next send that ends.
    if (this.stopped || lane.inFlight >= this.concurrency) return;
    this.schedule(await store.outbox.nextDueIn(channel, clock.now()));
  }

  private async deliver(message: OutboxMessage): Promise<void> {
    const { logger } = this.options;
    const sender = this.options.senders[message.channel];
    const attempt = message.attempts + 1;
    const claim = { id: message.id, token: message.claim };
    if (message.unreadable !== undefined) {
      // Never sent garbled, never retried: no retry can make it readable.
      if (!(await this.options.store.outbox.markFailed(claim, this.options.clock.now(), 'payload cannot be opened'))) {
        return this.leaseLost('outcome_dropped', message);
      }
      logger.error(
        { id: message.id, channel: message.channel, provider: this.options.providers?.[message.channel], attempt, reason: message.unreadable },
        'message given up on: its payload cannot be opened (was its key removed from outbox.keys too early?)',
      );
      this.options.onOutcome?.('failed', message.channel);
      return;
    }
    try {
      if (!sender) throw new PermanentDeliveryError(`no sender configured for ${message.channel}`);
      await sendWithinDeadline((signal) => sender(message.payload, message.id, signal), this.sendTimeoutMs, abortGraceMs(this.leaseMs, this.sendTimeoutMs));
    } catch (err) {
      // Not written (the database is down)? Then it is retried once the lease ends.
      return this.recordFailure(message, attempt, err);
    }
    let mark;
    try {
      mark = await this.sent.record(claim);
    } catch (err) {
      // Sent, but not recorded: it is no delivery failure, so it is not
      // rescheduled; it stays leased, and is sent again once the lease ends.
      logger.error({ id: message.id, channel: message.channel, err: describe(err) }, 'message sent but not recorded; it will be sent again');
      return;
    }
    if (mark === 'withoutLease') this.leaseLost('sent_recorded', message);
    if (mark === 'alreadyFinished') this.leaseLost('sent_twice', message);
    logger.info({ id: message.id, channel: message.channel, attempt }, 'message delivered');
    this.options.onOutcome?.('sent', message.channel);
  }

  private leaseLost(what: LostLease, message: OutboxMessage): void {
    this.options.logger.warn({ id: message.id, channel: message.channel, outcome: what }, 'outbox lease ran out before the send ended');
    this.options.onLeaseLost?.(what, message.channel);
  }

  /** A failed send: given up on (permanent, or out of attempts) or rescheduled with backoff. */
  private async recordFailure(message: OutboxMessage, attempt: number, err: unknown): Promise<void> {
    const { store, clock, logger } = this.options;
    const reason = describe(err);
    const claim = { id: message.id, token: message.claim };
    if (err instanceof PermanentDeliveryError || attempt >= this.options.maxAttempts[message.channel]) {
      if (!(await store.outbox.markFailed(claim, clock.now(), reason))) return this.leaseLost('outcome_dropped', message);
      logger.error({ id: message.id, channel: message.channel, provider: this.options.providers?.[message.channel], attempt, reason }, 'message given up on');
      this.options.onOutcome?.('failed', message.channel);
    } else {
      const delay = this.backoff(attempt);
      if (!(await store.outbox.reschedule(claim, clock.now() + delay, reason))) return this.leaseLost('outcome_dropped', message);
      logger.warn({ id: message.id, channel: message.channel, attempt, reason, retry_in_ms: delay }, 'delivery failed; will retry');
      this.options.onOutcome?.('retried', message.channel);
    }
  }

  /** 5 s, 10 s, 20 s … capped at 30 min, each ±20 % so retries do not stampede. */
  private backoff(attempt: number): number {
    const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
    const jitter = this.options.random.bytes(2).readUInt16BE(0) / 0xffff; // 0..1
    return Math.round(base * (0.8 + 0.4 * jitter));
  }

  /** Wakes after `delay` (null: nothing pending), unless a wake-up is already set sooner. */
  private schedule(delay: number | null): void {
    if (this.stopped) return;
    const wait = Math.min(delay ?? IDLE_POLL_MS, IDLE_POLL_MS);
    const at = performance.now() + wait;
    if (this.timer && this.timer.at <= at) return;
    this.clearTimer();
    const handle = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, wait);
    handle.unref();
    this.timer = { handle, at };
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer.handle);
    this.timer = undefined;
  }
}

/** An error's message without anything that could carry a payload (tokens, links). */
function describe(err: unknown): string {
  if (err instanceof PermanentDeliveryError || err instanceof SendDeadlineError) return err.message;
  const e = err as { name?: string; code?: unknown; responseCode?: number; message?: string };
  if (e.responseCode) return `SMTP ${e.responseCode}`;
  // A request's own timeout (AbortSignal.timeout) carries DOMException's legacy numeric code, 23, which says nothing.
  if (e.name === 'TimeoutError') return 'timed out waiting for an answer';
  if (typeof e.code === 'string' && e.code) return e.code;
  return (e.message ?? String(err)).slice(0, 200);
}
