import type { Logger } from '../logger';
import type { Clock, RandomSource } from '../sources';
import type { Channel, OutboxMessage } from '../store/outbox';
import type { Store } from '../store/store';
import { PermanentDeliveryError } from './errors';

/** Delivers one message of a channel; throws to fail (see {@link PermanentDeliveryError}). */
export type ChannelSender = (payload: unknown, messageId: string) => Promise<void>;

export interface OutboxWorkerOptions {
  readonly store: Store;
  readonly senders: Partial<Record<Channel, ChannelSender>>;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  /** Attempts before a message is given up on, per channel. */
  readonly maxAttempts: Readonly<Record<Channel, number>>;
  /** Messages claimed per round. */
  readonly batchSize?: number;
  /** How long a claim lasts: a message whose sender died becomes due again after it. */
  readonly leaseMs?: number;
  /** Counts outcomes, for the operator's view. */
  readonly onOutcome?: (outcome: DeliveryOutcome, channel: Channel) => void;
  /** Pauses before each new try of a failed "sent" write; one try more than pauses. */
  readonly sentWriteRetryMs?: readonly number[];
}

export type DeliveryOutcome = 'sent' | 'retried' | 'failed';

const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 30 * 60_000;
/** How long stop() waits for the round in flight. */
const STOP_WAIT_MS = 10_000;
/** Even with nothing due, look again this often: another process may have written. */
const IDLE_POLL_MS = 30_000;

/**
 * The outbox worker: claims due messages, sends them, and records the
 * outcome — sent (payload cleared), retried later with exponential backoff
 * and jitter, or failed for good. It is woken when a message is enqueued and
 * otherwise sleeps until the next one is due; it never busy-polls.
 */
export class OutboxWorker {
  private readonly sent: SentRecorder;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private wakeAgain = false;
  private retryNow = false;
  private stopped = true;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.sent = new SentRecorder(
      (ids) => options.store.outbox.markSent(ids, options.clock.now()),
      options.sentWriteRetryMs ?? SENT_WRITE_RETRY_MS,
    );
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Runs a round now (or right after the current one). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.wakeAgain = true;
      return;
    }
    this.clearTimer();
    this.running = this.drain()
      .catch((err: unknown) => {
        this.options.logger.error({ err: (err as Error).message }, 'outbox round failed; retrying soon');
        return FIRST_RETRY_MS as number | null;
      })
      .then((delay) => {
        this.running = undefined;
        if (this.wakeAgain) {
          this.wakeAgain = false;
          this.wake();
        } else {
          this.schedule(delay);
        }
      });
  }

  /** Runs a round now in which every pending message is due, whatever its backoff. */
  flush(): void {
    this.retryNow = true;
    this.wake();
  }

  /**
   * Stops after the round in flight; unsent messages stay in the outbox. A
   * round that has not ended after `waitMs` (a send that never answers) is
   * left behind, so that shutting down cannot hang: its messages are still
   * leased, and are sent again once the lease ends.
   */
  async stop(waitMs = STOP_WAIT_MS): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([
      this.running.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), waitMs))),
    ]);
    clearTimeout(timer);
    if (gaveUp) this.options.logger.warn({ waited_ms: waitMs }, 'outbox round still running at stop; its messages stay leased');
  }

  /** Sends everything due now; answers how long to sleep before the next due message. */
  private async drain(): Promise<number | null> {
    const { store, clock } = this.options;
    const batchSize = this.options.batchSize ?? 50;
    const leaseMs = this.options.leaseMs ?? 60_000;
    if (this.retryNow) {
      this.retryNow = false;
      await store.outbox.makePendingDue(clock.now());
    }
    for (;;) {
      if (this.stopped) return null;
      const now = clock.now();
      const batch = await store.outbox.claimDue(now, batchSize, now + leaseMs);
      await Promise.all(batch.map((message) => this.deliver(message)));
      if (batch.length < batchSize) break;
    }
    const due = await store.outbox.nextDueAt();
    return due === null ? null : Math.max(0, due - clock.now());
  }

  private async deliver(message: OutboxMessage): Promise<void> {
    const { logger } = this.options;
    const sender = this.options.senders[message.channel];
    const attempt = message.attempts + 1;
    if (message.unreadable !== undefined) {
      // Never sent garbled, never retried: no retry can make it readable.
      await this.options.store.outbox.markFailed(message.id, this.options.clock.now(), 'payload cannot be opened');
      logger.error(
        { id: message.id, channel: message.channel, attempt, reason: message.unreadable },
        'message given up on: its payload cannot be opened (was its key removed from outbox.keys too early?)',
      );
      this.options.onOutcome?.('failed', message.channel);
      return;
    }
    try {
      if (!sender) throw new PermanentDeliveryError(`no sender configured for ${message.channel}`);
      await sender(message.payload, message.id);
    } catch (err) {
      await this.recordFailure(message, attempt, err);
      return;
    }
    try {
      await this.sent.record(message.id);
    } catch (err) {
      // Sent, but not recorded: it is no delivery failure, so it is not
      // rescheduled; it stays leased, and is sent again once the lease ends.
      logger.error({ id: message.id, channel: message.channel, err: describe(err) }, 'message sent but not recorded; it will be sent again');
      return;
    }
    logger.info({ id: message.id, channel: message.channel, attempt }, 'message delivered');
    this.options.onOutcome?.('sent', message.channel);
  }

  /** A failed send: given up on (permanent, or out of attempts) or rescheduled with backoff. */
  private async recordFailure(message: OutboxMessage, attempt: number, err: unknown): Promise<void> {
    const { store, clock, logger } = this.options;
    const reason = describe(err);
    if (err instanceof PermanentDeliveryError || attempt >= this.options.maxAttempts[message.channel]) {
      await store.outbox.markFailed(message.id, clock.now(), reason);
      logger.error({ id: message.id, channel: message.channel, attempt, reason }, 'message given up on');
      this.options.onOutcome?.('failed', message.channel);
    } else {
      const delay = this.backoff(attempt);
      await store.outbox.reschedule(message.id, clock.now() + delay, reason);
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

  private schedule(delay: number | null): void {
    if (this.stopped) return;
    this.clearTimer();
    this.timer = setTimeout(() => this.wake(), Math.min(delay ?? IDLE_POLL_MS, IDLE_POLL_MS));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Marks messages sent in groups: every send that ends in the same turn of
 * the event loop is recorded by one UPDATE, in one commit. A message is
 * only counted sent once its group is written.
 */
class SentRecorder {
  private ids: string[] = [];
  private written: Promise<void> | undefined;

  constructor(
    private readonly write: (ids: readonly string[]) => Promise<void>,
    private readonly pausesMs: readonly number[],
  ) {}

  record(id: string): Promise<void> {
    this.ids.push(id);
    this.written ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const ids = this.ids;
      this.ids = [];
      this.written = undefined;
      return this.writeWithRetries(ids);
    });
    return this.written;
  }

  /** The write is idempotent: a busy database or a dropped connection gets a few more tries. */
  private async writeWithRetries(ids: readonly string[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.write(ids);
      } catch (err) {
        if (attempt >= this.pausesMs.length) throw err;
        await new Promise((resolve) => setTimeout(resolve, this.pausesMs[attempt]));
      }
    }
  }
}

/** Pauses before the retries of a failed "sent" write, by default. */
const SENT_WRITE_RETRY_MS = [50, 250, 1_000];

/** An error's message without anything that could carry a payload (tokens, links). */
function describe(err: unknown): string {
  if (err instanceof PermanentDeliveryError) return err.message;
  const e = err as { code?: string; responseCode?: number; message?: string };
  if (e.responseCode) return `SMTP ${e.responseCode}`;
  if (e.code) return e.code;
  return (e.message ?? String(err)).slice(0, 200);
}
