import type { Kysely } from 'kysely';
import { PermanentDeliveryError } from '../../../src/delivery/errors';
import { OutboxWorker, type ChannelSender, type DeliveryOutcome, type LostLease } from '../../../src/delivery/outbox-worker';
import type { Database } from '../../../src/store/schema';
import { Store } from '../../../src/store/store';
import { AesGcmSealer } from '../../../src/store/sealing';
import { Keyring } from '../../../src/keyring';
import { CapturingLogger, FakeClock, removeDir, tempDir } from '../../support/harness';
import { openTestDatabase, rowNumbers } from '../../support/postgres';
import { SeededRandom } from '../../support/seeded-random';
import { eventually } from '../../support/e2e-utils';

const PAYLOAD = { template: 'registration', to: 'alice@example.com', link: 'https://hs.example.org/validate?token=SECRET_TOKEN' };
const LEASE_MS = 60_000;

/**
 * A sender port that records what it was given and answers with the next
 * scripted outcome: `undefined` delivers, an Error is thrown.
 */
class ScriptedSender {
  readonly received: unknown[] = [];
  private readonly outcomes: Array<Error | undefined>;

  constructor(...outcomes: Array<Error | undefined>) {
    this.outcomes = outcomes;
  }

  readonly send: ChannelSender = async (payload) => {
    this.received.push(payload);
    const outcome = this.outcomes.length > 0 ? this.outcomes.shift() : undefined;
    if (outcome) throw outcome;
  };
}

describe('OutboxWorker over the store (SQLite, and PostgreSQL on the postgres project)', () => {
  let dir: string;
  let db: Kysely<Database>;
  let engine: 'sqlite' | 'postgres';
  let store: Store;
  let clock: FakeClock;
  let logger: CapturingLogger;
  let outcomes: DeliveryOutcome[];
  let lost: LostLease[];

  beforeEach(async () => {
    dir = tempDir('threepid-outbox-');
    ({ db, engine } = await openTestDatabase(dir));
    store = new Store(db, engine, new AesGcmSealer(Keyring.ephemeral()));
    clock = new FakeClock();
    logger = new CapturingLogger();
    outcomes = [];
    lost = [];
  });

  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  function worker(sender: ScriptedSender | undefined, maxAttempts = 12): OutboxWorker {
    return new OutboxWorker({
      store,
      senders: sender ? { email: sender.send } : {},
      clock,
      random: new SeededRandom(7),
      logger,
      maxAttempts: { email: maxAttempts, sms: 12 },
      leaseMs: LEASE_MS,
      onOutcome: (outcome) => outcomes.push(outcome),
      onLeaseLost: (what) => lost.push(what),
      // No real pauses between the tries of a failed "sent" write.
      sentWriteRetryMs: [0, 0, 0],
    });
  }

  /** One delivery round: start() runs a round at once, stop() waits for it to finish. */
  async function round(w: OutboxWorker): Promise<void> {
    w.start();
    await w.stop();
  }

  async function enqueue(id = 'msg1'): Promise<void> {
    await store.outbox.enqueue({ id, channel: 'email', payload: PAYLOAD, now: clock.now() });
  }

  async function row(id = 'msg1') {
    return rowNumbers(await db.selectFrom('threepid_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
  }

  it('sends a due message, marks it sent and clears its payload', async () => {
    await enqueue();
    const sender = new ScriptedSender();
    clock.advance(10);
    await round(worker(sender));

    expect(sender.received).toEqual([PAYLOAD]);
    expect(await row()).toMatchObject({
      status: 'sent',
      payload: null,
      attempts: 1,
      finished_at: clock.now(),
      last_error: null,
    });
    expect(outcomes).toEqual(['sent']);
    expect(await store.outbox.nextDueIn('email', clock.now())).toBeNull();
  });

  it('keeps the payload sealed in the database: no token, no address', async () => {
    await enqueue();
    const stored = (await row()).payload as string;
    expect(stored).toMatch(/^v1\.ephemeral\./);
    expect(stored).not.toContain('SECRET_TOKEN');
    expect(stored).not.toContain('alice@example.com');
  });

  it('fails a message whose key is gone with a clear log line, sends nothing, and keeps going', async () => {
    await enqueue('msg1');
    // The keys are rotated and the old one dropped before the outbox drained.
    store = new Store(db, engine, new AesGcmSealer(new Keyring([{ id: 'newkey', secret: Buffer.alloc(32, 9) }])));
    await enqueue('msg2');
    const sender = new ScriptedSender();
    await round(worker(sender));

    expect(sender.received).toEqual([PAYLOAD]);
    expect(await row('msg1')).toMatchObject({ status: 'failed', payload: null, last_error: 'payload cannot be opened' });
    expect(await row('msg2')).toMatchObject({ status: 'sent' });
    expect(outcomes.sort()).toEqual(['failed', 'sent']);
    const line = logger.lines.find((entry) => entry.level === 'error' && entry.fields && (entry.fields as { id?: string }).id === 'msg1');
    expect(line?.message).toMatch(/payload cannot be opened/);
    expect(JSON.stringify(line?.fields)).toContain('not in the keyring');
  });

  it('never sends a payload that was altered or moved to another row', async () => {
    await enqueue('msg1');
    await enqueue('msg2');
    const first = (await row('msg1')).payload as string;
    await db.updateTable('threepid_outbox').set({ payload: first }).where('id', '=', 'msg2').execute();
    await db.updateTable('threepid_outbox').set({ payload: `${first.slice(0, -4)}AAAA` }).where('id', '=', 'msg1').execute();
    const sender = new ScriptedSender();
    await round(worker(sender));
    expect(sender.received).toEqual([]);
    expect(await row('msg1')).toMatchObject({ status: 'failed' });
    expect(await row('msg2')).toMatchObject({ status: 'failed' });
  });

  it('seals at start a payload written in clear before sealing existed, and then sends it', async () => {
    await db
      .insertInto('threepid_outbox')
      .values({ id: 'old', channel: 'email', payload: JSON.stringify(PAYLOAD), status: 'pending', created_at: 0, next_attempt_at: 0, last_error: null, finished_at: null })
      .execute();
    expect(await store.outbox.sealClearPayloads()).toBe(1);
    expect((await row('old')).payload).toMatch(/^v1\./);
    const sender = new ScriptedSender();
    await round(worker(sender));
    expect(sender.received).toEqual([PAYLOAD]);
  });

  it('does not send a sent message again', async () => {
    await enqueue();
    const sender = new ScriptedSender();
    await round(worker(sender));
    clock.advance(LEASE_MS * 10);
    await round(worker(sender));
    expect(sender.received).toHaveLength(1);
  });

  it('reschedules after a generic error, with a backoff of at least 4 s, and counts the attempt', async () => {
    await enqueue();
    const sender = new ScriptedSender(new Error('connection reset'));
    const start = clock.now();
    await round(worker(sender));

    const failed = await row();
    expect(failed).toMatchObject({ status: 'pending', attempts: 1, last_error: 'connection reset', locked_until: 0 });
    expect(failed.payload).not.toBeNull();
    const delay = Number(failed.next_attempt_at) - start;
    expect(delay).toBeGreaterThanOrEqual(4_000); // 5 s − 20 % jitter
    expect(delay).toBeLessThanOrEqual(6_000); // 5 s + 20 % jitter
    expect(outcomes).toEqual(['retried']);
    expect(await store.outbox.nextDueIn('email', clock.now())).toBe(Number(failed.next_attempt_at) - clock.now());
  });

  it('waits for the backoff, then retries, doubling the next backoff', async () => {
    await enqueue();
    const sender = new ScriptedSender(new Error('down'), new Error('still down'));
    const w = worker(sender);
    await round(w);
    const firstRetryAt = Number((await row()).next_attempt_at);

    clock.ms = firstRetryAt - 1;
    await round(w);
    expect(sender.received).toHaveLength(1); // not due yet

    clock.ms = firstRetryAt;
    await round(w);
    expect(sender.received).toHaveLength(2);
    const second = await row();
    expect(second).toMatchObject({ status: 'pending', attempts: 2, last_error: 'still down' });
    const delay = Number(second.next_attempt_at) - firstRetryAt;
    expect(delay).toBeGreaterThanOrEqual(8_000);
    expect(delay).toBeLessThanOrEqual(12_000);

    clock.ms = Number(second.next_attempt_at);
    await round(w);
    expect(await row()).toMatchObject({ status: 'sent', attempts: 3, payload: null });
    expect(outcomes).toEqual(['retried', 'retried', 'sent']);
  });

  it('records SMTP and system errors by code only', async () => {
    await enqueue('smtp');
    await enqueue('sys');
    const smtpError = Object.assign(new Error('550 <alice@example.com> rejected'), { responseCode: 450 });
    const sysError = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNREFUSED' });
    await round(worker(new ScriptedSender(smtpError, sysError)));
    const errors = [(await row('smtp')).last_error, (await row('sys')).last_error].sort();
    expect(errors).toEqual(['ECONNREFUSED', 'SMTP 450']);
  });

  it('marks a message failed at once on a PermanentDeliveryError', async () => {
    await enqueue();
    const sender = new ScriptedSender(new PermanentDeliveryError('recipient refused'));
    await round(worker(sender));

    expect(await row()).toMatchObject({
      status: 'failed',
      payload: null,
      attempts: 1,
      last_error: 'recipient refused',
      finished_at: clock.now(),
    });
    expect(outcomes).toEqual(['failed']);
    expect(await store.outbox.nextDueIn('email', clock.now())).toBeNull();
  });

  it('marks a message failed when no sender handles its channel', async () => {
    await enqueue();
    await round(worker(undefined));
    expect(await row()).toMatchObject({ status: 'failed', payload: null, last_error: 'no sender configured for email' });
  });

  it('marks a message failed once maxAttempts is reached', async () => {
    await enqueue();
    const sender = new ScriptedSender(new Error('one'), new Error('two'), new Error('three'), new Error('four'));
    const w = worker(sender, 3);

    await round(w);
    clock.ms = Number((await row()).next_attempt_at);
    await round(w);
    expect(await row()).toMatchObject({ status: 'pending', attempts: 2 });

    clock.ms = Number((await row()).next_attempt_at);
    await round(w);
    expect(await row()).toMatchObject({ status: 'failed', attempts: 3, payload: null, last_error: 'three' });
    expect(outcomes).toEqual(['retried', 'retried', 'failed']);

    clock.advance(3_600_000);
    await round(w);
    expect(sender.received).toHaveLength(3);
  });

  it('does not log the payload (which holds the token)', async () => {
    await enqueue('ok');
    await enqueue('retry');
    await enqueue('fail');
    const sender = new ScriptedSender(undefined, new Error('boom'), new PermanentDeliveryError('refused'));
    await round(worker(sender));
    expect(logger.lines.length).toBeGreaterThanOrEqual(3);
    expect(logger.text()).not.toContain('SECRET_TOKEN');
    expect(logger.text()).not.toContain('alice@example.com');
  });

  describe('claims are leased, in the database clock', () => {
    const claim = (leaseMs = LEASE_MS, limit = 10, token = 'claim-1') =>
      store.outbox.claimDue({ channel: 'email', now: clock.now(), limit, leaseMs, token });

    it('a second claimDue before the lease expires gets nothing; after it, the message again', async () => {
      await enqueue();
      const first = await claim(300);
      expect(first.map((message) => message.id)).toEqual(['msg1']);
      expect(first[0]).toMatchObject({ channel: 'email', claim: 'claim-1', payload: PAYLOAD, attempts: 0, createdAt: clock.now() });

      // The process's clock says nothing about the lease: moving it far on frees nothing.
      clock.advance(LEASE_MS * 1000);
      expect(await claim(LEASE_MS, 10, 'claim-2')).toEqual([]);

      const again = await eventually(async () => (await claim(LEASE_MS, 10, 'claim-3')).at(0), 'the lease to end in the database');
      expect(again).toMatchObject({ id: 'msg1', claim: 'claim-3', attempts: 0 });
    });

    it('claims at most `limit` messages, oldest due first, of the channel asked for', async () => {
      await enqueue('a');
      clock.advance(1);
      await store.outbox.enqueue({ id: 'text', channel: 'sms', payload: { to: '15005550006', code: '123456' }, now: clock.now() });
      await enqueue('b');
      clock.advance(1);
      await enqueue('c');
      expect((await claim(LEASE_MS, 2)).map((message) => message.id)).toEqual(['a', 'b']);
      expect((await claim(LEASE_MS, 2)).map((message) => message.id)).toEqual(['c']);
    });

    it('the worker skips a message another process holds, and sends it once the lease runs out', async () => {
      await enqueue();
      // Another process claimed it and died.
      await claim(300);
      const sender = new ScriptedSender();
      const w = worker(sender);

      await round(w);
      expect(sender.received).toEqual([]);
      expect((await row()).status).toBe('pending');

      await eventually(async () => {
        await round(w);
        return sender.received.length === 1;
      }, 'the message to be sent once the lease ends');
      expect(sender.received).toEqual([PAYLOAD]);
      expect((await row()).status).toBe('sent');
    });
  });

  describe('a send that ends after its lease', () => {
    /** Holds the send until `finish` is called; it then delivers, or throws `failure`. */
    function heldSend(failure?: Error) {
      let finish!: () => void;
      const gate = new Promise<void>((resolve) => (finish = resolve));
      const received: unknown[] = [];
      const send: ChannelSender = async (payload) => {
        received.push(payload);
        await gate;
        if (failure) throw failure;
      };
      return { received, finish, send };
    }

    async function sendPastLease(held: ReturnType<typeof heldSend>, meanwhile: () => Promise<void>): Promise<void> {
      await enqueue();
      const w = new OutboxWorker({
        store,
        senders: { email: held.send },
        clock,
        random: new SeededRandom(7),
        logger,
        maxAttempts: { email: 3, sms: 3 },
        onOutcome: (outcome) => outcomes.push(outcome),
        onLeaseLost: (what) => lost.push(what),
      });
      w.start();
      await eventually(() => held.received.length === 1, 'the send to start');
      // The lease runs out while the send goes on.
      await db.updateTable('threepid_outbox').set({ locked_until: 0 }).execute();
      await meanwhile();
      held.finish();
      await w.stop();
    }

    const otherClaim = () => store.outbox.claimDue({ channel: 'email', now: clock.now(), limit: 1, leaseMs: LEASE_MS, token: 'other' });

    it('is recorded as any other when no one took the message meanwhile: nothing was lost', async () => {
      await sendPastLease(heldSend(), async () => undefined);
      expect(await row()).toMatchObject({ status: 'sent', payload: null });
      expect(lost).toEqual([]);
      expect(outcomes).toEqual(['sent']);
    });

    it('is recorded sent when another claim took the message and gave it back unsent, and counted', async () => {
      await sendPastLease(heldSend(), async () => {
        expect(await otherClaim()).toHaveLength(1);
        expect(await store.outbox.reschedule({ id: 'msg1', token: 'other' }, clock.now() + 5_000, 'connection reset')).toBe(true);
      });
      // Sent: no replica sends it again.
      expect(await row()).toMatchObject({ status: 'sent', payload: null });
      expect(lost).toEqual(['sent_recorded']);
      expect(outcomes).toEqual(['sent']);
    });

    it('is counted as sent twice when another claim sent the message meanwhile', async () => {
      await sendPastLease(heldSend(), async () => {
        expect(await otherClaim()).toHaveLength(1);
        await store.outbox.markSent([{ id: 'msg1', token: 'other' }], clock.now());
      });
      expect(await row()).toMatchObject({ status: 'sent', claim_token: 'other', attempts: 1 });
      expect(lost).toEqual(['sent_twice']);
    });

    it('writes no failure over the claim that holds the message now', async () => {
      await sendPastLease(heldSend(new Error('connection reset')), async () => {
        expect(await otherClaim()).toHaveLength(1);
      });
      const message = await row();
      expect(message).toMatchObject({ status: 'pending', attempts: 0, claim_token: 'other', last_error: null });
      expect(Number(message.locked_until)).toBeGreaterThan(Date.now());
      expect(lost).toEqual(['outcome_dropped']);
      expect(outcomes).toEqual([]);
    });
  });

  it('cuts a send off at its deadline, tells the sender to drop it, and retries it later', async () => {
    await enqueue();
    let aborted: unknown;
    const w = new OutboxWorker({
      store,
      senders: {
        email: (_payload, _id, signal) =>
          new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject((aborted = signal.reason)))),
      },
      clock,
      random: new SeededRandom(7),
      logger,
      maxAttempts: { email: 3, sms: 3 },
      leaseMs: 2_000,
      sendTimeoutMs: 50,
      onOutcome: (outcome) => outcomes.push(outcome),
    });
    await round(w);
    expect(aborted).toBeInstanceOf(Error);
    expect(await row()).toMatchObject({ status: 'pending', attempts: 1, locked_until: 0, last_error: 'send did not end within 50 ms' });
    expect(outcomes).toEqual(['retried']);
  });

  it('refuses a lease no longer than the send deadline', () => {
    expect(() => worker(undefined)).not.toThrow();
    expect(
      () => new OutboxWorker({ store, senders: {}, clock, random: new SeededRandom(7), logger, maxAttempts: { email: 3, sms: 3 }, leaseMs: 1_000, sendTimeoutMs: 1_000 }),
    ).toThrow(/lease must be longer/);
  });

  it('keeps claiming batches until everything due is delivered', async () => {
    for (let i = 0; i < 7; i++) await enqueue(`m${i}`);
    const sender = new ScriptedSender();
    let allDone!: () => void;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    let delivered = 0;
    const w = new OutboxWorker({
      store,
      senders: { email: sender.send },
      clock,
      random: new SeededRandom(7),
      logger,
      maxAttempts: { email: 3, sms: 3 },
      concurrency: 3,
      onOutcome: () => {
        if (++delivered === 7) allDone();
      },
    });
    w.start(); // one wake-up, no further events: the worker must drain 3 + 3 + 1 on its own
    await done;
    await w.stop();
    expect(sender.received).toHaveLength(7);
    expect((await store.outbox.stats()).sent).toBe(7);
  });

  it('marks the messages whose sends end together sent with one statement, and only after that counts them', async () => {
    for (let i = 0; i < 10; i++) await enqueue(`m${i}`);
    const markSent = jest.spyOn(store.outbox, 'markSent');
    const counted: number[] = [];
    const w = new OutboxWorker({
      store,
      senders: { email: new ScriptedSender().send },
      clock,
      random: new SeededRandom(7),
      logger,
      maxAttempts: { email: 3, sms: 3 },
      concurrency: 50,
      onOutcome: () => void store.outbox.stats().then((stats) => counted.push(stats.sent)),
    });
    await round(w);
    expect(markSent).toHaveBeenCalledTimes(1);
    expect(markSent.mock.calls[0][0]).toHaveLength(10);
    expect((await store.outbox.stats()).sent).toBe(10);
    // Each outcome was reported once its row said sent.
    await eventually(() => counted.length === 10, 'ten outcomes');
    expect(counted).toEqual(Array(10).fill(10));
  });

  it('does not let a send that never answers hang stop(): the message stays leased and pending', async () => {
    await enqueue();
    let started!: () => void;
    const sending = new Promise<void>((resolve) => (started = resolve));
    const w = new OutboxWorker({
      store,
      senders: {
        email: () => {
          started();
          return new Promise<void>(() => undefined); // never settles
        },
      },
      clock,
      random: new SeededRandom(7),
      logger,
      maxAttempts: { email: 3, sms: 3 },
    });
    w.start();
    await sending;
    await w.stop(50);
    expect(logger.lines.some((line) => line.level === 'warn' && /still running at stop/.test(line.message ?? ''))).toBe(true);
    const message = await row();
    expect(message.status).toBe('pending');
    expect(Number(message.locked_until)).toBeGreaterThan(Date.now());
  });

  it('tries the "sent" write again when it fails once: the message is recorded sent, not retried', async () => {
    await enqueue();
    jest.spyOn(store.outbox, 'markSent').mockRejectedValueOnce(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }));
    const sender = new ScriptedSender();
    await round(worker(sender));
    expect(sender.received).toHaveLength(1);
    expect((await row()).status).toBe('sent');
    expect(outcomes).toEqual(['sent']);
  });

  it('does not count a sent message as a failed delivery when recording it keeps failing: it stays leased', async () => {
    await enqueue();
    const markSent = jest
      .spyOn(store.outbox, 'markSent')
      .mockRejectedValue(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }));
    const sender = new ScriptedSender();
    await round(worker(sender));
    expect(markSent).toHaveBeenCalledTimes(4); // the write, then one try after each of the three pauses
    const message = await row();
    expect(message.status).toBe('pending');
    expect(Number(message.attempts)).toBe(0); // not rescheduled as a failure
    expect(Number(message.locked_until)).toBeGreaterThan(Date.now()); // sent again once the lease ends
    expect(outcomes).toEqual([]);
    expect(logger.lines.some((line) => line.level === 'error' && line.message === 'message sent but not recorded; it will be sent again')).toBe(true);
  });

  it('stops between batches, leaving the rest in the outbox', async () => {
    for (let i = 0; i < 7; i++) await enqueue(`m${i}`);
    const sender = new ScriptedSender();
    const w = new OutboxWorker({
      store,
      senders: { email: sender.send },
      clock,
      random: new SeededRandom(7),
      logger,
      maxAttempts: { email: 3, sms: 3 },
      concurrency: 3,
    });
    await round(w);
    expect(sender.received).toHaveLength(3);
    expect(await store.outbox.stats()).toMatchObject({ sent: 3, pending: 4 });
  });
});
