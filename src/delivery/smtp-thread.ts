/**
 * SMTP on the module's background thread. An SMTP message is a conversation of about six
 * round trips, and each waits for a turn of the event loop that reads the
 * server's answer. On the request thread, under a sign-up wave, a turn took
 * as long as the HTTP requests queued in it: delivery fell to a few emails a
 * second until the wave was over. nodemailer's MIME building (most of the
 * CPU an email costs) moves to this thread too. Rendering and the outbox's
 * bookkeeping stay where they were; only finished messages cross over.
 *
 * This file is both sides: {@link ThreadedMailTransport} for the module, and
 * the job's own code, {@link runSmtpJob}, which the thread's entry file
 * `threads/background.ts` runs beside the WAL checkpoints. nodemailer is
 * loaded where SMTP runs, when the first message is sent: not on the
 * module's thread, and not at start.
 */
import { BackgroundThread, type Job, type JobPort } from '../background-thread';
import type { Logger } from '../logger';
import { PermanentDeliveryError } from './errors';
import type { MailMessage } from './mail-message';
import type { MailTransport, SmtpTransportSettings } from './mail-transport';

/** Loaded on first use: nodemailer and its MIME code cost start-up time and memory a thread that never sends should not pay. */
function smtpTransport(smtp: SmtpTransportSettings): MailTransport {
  return (require('./mail-transport') as typeof import('./mail-transport')).createSmtpTransport(smtp);
}

interface SendRequest {
  readonly type: 'send';
  readonly id: number;
  readonly message: MailMessage;
}

/** The send's deadline passed on the module's side: drop its connection. */
interface AbortRequest {
  readonly type: 'abort';
  readonly id: number;
}

/** A failure as it crosses threads: enough for the outbox's retry rules and its log line. */
interface SendFailure {
  readonly permanent: boolean;
  readonly message: string;
  readonly code?: string;
  readonly responseCode?: number;
}

interface SendResult {
  readonly id: number;
  readonly failure?: SendFailure;
}

/** An error rebuilt on this side, with the fields the outbox reads. */
function rebuild(failure: SendFailure): Error {
  if (failure.permanent) return new PermanentDeliveryError(failure.message);
  return Object.assign(new Error(failure.message), { code: failure.code, responseCode: failure.responseCode });
}

/** Threads that die before answering anything, in a row, before SMTP moves back onto the main thread. */
const MAX_FAILED_STARTS = 3;

type Waiting = { resolve: () => void; reject: (err: Error) => void };

/**
 * A {@link MailTransport} whose SMTP connections live on the module's
 * background thread. The job starts with the first message and is started
 * again if the thread dies; messages in flight then fail as temporary
 * errors and the outbox retries them. A thread that keeps dying before it
 * answers anything (it cannot load) is given up on, and SMTP runs on the
 * main thread as before. While nothing is in flight the thread does not
 * keep the process up.
 */
export class ThreadedMailTransport implements MailTransport {
  private current: { job: Job; pending: Map<number, Waiting> } | undefined;
  private inProcess: MailTransport | undefined;
  private nextId = 1;
  private failedStarts = 0;
  private closed = false;

  private constructor(
    private readonly thread: BackgroundThread,
    private readonly smtp: SmtpTransportSettings,
    private readonly logger: Logger,
  ) {}

  /**
   * The threaded transport, or undefined when the thread's entry file
   * (`dist/threads/background.js`) is not found (the caller sends
   * in-process). `thread` is the module's background thread, or the entry
   * file of a thread of its own (tests).
   */
  static create(smtp: SmtpTransportSettings, logger: Logger, thread?: BackgroundThread | string): ThreadedMailTransport | undefined {
    const host = thread instanceof BackgroundThread ? thread : BackgroundThread.create(thread);
    return host ? new ThreadedMailTransport(host, smtp, logger) : undefined;
  }

  send(message: MailMessage, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new Error('mail transport closed'));
    if (this.inProcess) return this.inProcess.send(message, signal);
    signal?.throwIfAborted();
    const { job, pending } = this.start();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      // The thread answers an abort too, and its answer is taken: a "sent"
      // it posted before it heard of the abort is a message the server took.
      let aborted = false;
      const onAbort = () => {
        aborted = true;
        if (pending.has(id)) job.post({ type: 'abort', id } satisfies AbortRequest);
      };
      const answered = () => signal?.removeEventListener('abort', onAbort);
      pending.set(id, {
        resolve: () => (answered(), resolve()),
        reject: (err) => (answered(), reject(aborted ? (signal?.reason as Error) : err)),
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      job.hold();
      job.post({ type: 'send', id, message } satisfies SendRequest);
    });
  }

  close(): void {
    this.closed = true;
    this.inProcess?.close();
    // Messages still in flight are answered (or fail) before the thread ends.
    this.current?.job.post({ type: 'close' });
    this.current?.job.release();
    this.current = undefined;
  }

  private start(): { job: Job; pending: Map<number, Waiting> } {
    if (this.current) return this.current;
    // Each start answers for its own messages only: a dead thread's exit
    // must not fail what its replacement is sending.
    const pending = new Map<number, Waiting>();
    let answered = false;
    let lost = false;
    const onMessage = (message: Record<string, unknown>) => {
      const result = message as unknown as SendResult;
      answered = true;
      this.failedStarts = 0;
      const waiting = pending.get(result.id);
      if (!waiting) return;
      pending.delete(result.id);
      if (pending.size === 0) job.release();
      if (result.failure) waiting.reject(rebuild(result.failure));
      else waiting.resolve();
    };
    const onLost = (reason: string) => {
      if (lost) return;
      lost = true;
      if (this.current === started) this.current = undefined;
      const waiting = [...pending.values()];
      pending.clear();
      // Closed or not, every message still in flight is answered: a thread
      // that dies after close() must not leave its senders waiting for ever.
      if (!this.closed) {
        this.logger.error({ reason, in_flight: waiting.length }, 'SMTP thread ended; its messages will be retried');
        if (!answered && ++this.failedStarts >= MAX_FAILED_STARTS) {
          this.logger.error({ attempts: this.failedStarts }, 'SMTP thread cannot start; sending from the main thread instead');
          this.inProcess = smtpTransport(this.smtp);
        }
      }
      for (const { reject } of waiting) reject(Object.assign(new Error(reason), { code: 'ETHREAD' }));
    };
    const job = this.thread.open('smtp', { smtp: this.smtp }, {
      message: onMessage,
      // Ended by close() once its messages were answered.
      ended: () => onLost('SMTP job ended'),
      lost: (reason) => onLost(`SMTP thread ended: ${reason}`),
    });
    const started = { job, pending };
    this.current = started;
    return started;
  }
}

/**
 * The job: one pooled SMTP transport, sending what it is given. Run on the
 * background thread by its entry file, `threads/background.ts`.
 */
export function runSmtpJob(port: JobPort, data: unknown): void {
  const { smtp } = data as { smtp: SmtpTransportSettings };
  const transport = smtpTransport(smtp);
  const inFlight = new Map<number, AbortController>();
  let closing = false;
  const finish = () => {
    if (!closing || inFlight.size > 0) return;
    transport.close();
    port.end();
  };
  port.onMessage((message) => {
    const request = message as unknown as SendRequest | AbortRequest | { type: 'close' };
    if (request.type === 'close') {
      closing = true;
      finish();
      return;
    }
    if (request.type === 'abort') {
      inFlight.get(request.id)?.abort();
      return;
    }
    const controller = new AbortController();
    inFlight.set(request.id, controller);
    transport.send(request.message, controller.signal).then(
      () => port.post({ id: request.id } satisfies SendResult),
      (err: unknown) => {
        const e = err as { message?: string; code?: unknown; responseCode?: unknown };
        const failure: SendFailure = {
          permanent: err instanceof PermanentDeliveryError,
          message: String(e.message ?? err),
          code: typeof e.code === 'string' ? e.code : undefined,
          responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
        };
        port.post({ id: request.id, failure } satisfies SendResult);
      },
    ).finally(() => {
      inFlight.delete(request.id);
      finish();
    });
  });
}
