/**
 * SMTP on its own thread. An SMTP message is a conversation of about six
 * round trips, and each waits for a turn of the event loop that reads the
 * server's answer. On the request thread, under a sign-up wave, a turn took
 * as long as the HTTP requests queued in it: delivery fell to a few emails a
 * second until the wave was over. nodemailer's MIME building (most of the
 * CPU an email costs) moves to this thread too. Rendering and the outbox's
 * bookkeeping stay where they were; only finished messages cross over.
 *
 * This file is both sides: {@link ThreadedMailTransport} for the module, and
 * the thread's own code, {@link runSmtpThread}, which the thread's entry
 * file `threads/smtp.ts` runs. A worker is never started from this file: in
 * a host that bundles the module, it would be the host's whole bundle.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import type { Logger } from '../logger';
import { threadEntryFile } from '../package-files';
import { PermanentDeliveryError } from './errors';
import type { MailMessage } from './mail-message';
import { createSmtpTransport, type MailTransport, type SmtpTransportSettings } from './mail-transport';

const THREAD_KIND = 'threepid-smtp';

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
 * A {@link MailTransport} whose SMTP connections live on a worker thread.
 * The thread starts with the first message and is started again if it dies;
 * messages in flight then fail as temporary errors and the outbox retries
 * them. A thread that keeps dying before it answers anything (it cannot
 * load) is given up on, and SMTP runs on the main thread as before. While
 * nothing is in flight the thread does not keep the process up.
 */
export class ThreadedMailTransport implements MailTransport {
  private current: { worker: Worker; pending: Map<number, Waiting> } | undefined;
  private inProcess: MailTransport | undefined;
  private nextId = 1;
  private failedStarts = 0;
  private closed = false;

  private constructor(
    private readonly entry: string,
    private readonly smtp: SmtpTransportSettings,
    private readonly logger: Logger,
  ) {}

  /**
   * The threaded transport, or undefined when the thread's entry file
   * (`dist/threads/smtp.js`) is not found (the caller sends in-process).
   * `entry` names another thread file (tests).
   */
  static create(smtp: SmtpTransportSettings, logger: Logger, entry = threadEntryFile('smtp')): ThreadedMailTransport | undefined {
    return entry ? new ThreadedMailTransport(entry, smtp, logger) : undefined;
  }

  send(message: MailMessage, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new Error('mail transport closed'));
    if (this.inProcess) return this.inProcess.send(message, signal);
    signal?.throwIfAborted();
    const { worker, pending } = this.start();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      // The thread answers an abort too, and its answer is taken: a "sent"
      // it posted before it heard of the abort is a message the server took.
      let aborted = false;
      const onAbort = () => {
        aborted = true;
        if (pending.has(id)) worker.postMessage({ type: 'abort', id } satisfies AbortRequest);
      };
      const answered = () => signal?.removeEventListener('abort', onAbort);
      pending.set(id, {
        resolve: () => (answered(), resolve()),
        reject: (err) => (answered(), reject(aborted ? (signal?.reason as Error) : err)),
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.ref();
      worker.postMessage({ type: 'send', id, message } satisfies SendRequest);
    });
  }

  close(): void {
    this.closed = true;
    this.inProcess?.close();
    // Messages still in flight are answered (or fail) before the thread ends.
    this.current?.worker.postMessage({ type: 'close' });
    this.current?.worker.unref();
    this.current = undefined;
  }

  private start(): { worker: Worker; pending: Map<number, Waiting> } {
    if (this.current) return this.current;
    const worker = new Worker(this.entry, {
      workerData: { kind: THREAD_KIND, smtp: this.smtp },
      // A few dozen messages in flight need little; V8's defaults would let
      // garbage pile up to tens of megabytes before collecting it.
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 96 },
    });
    // Each thread answers for its own messages only: a dead thread's exit
    // must not fail what its replacement is sending.
    const pending = new Map<number, Waiting>();
    const thread = { worker, pending };
    let answered = false;
    let lost = false;
    worker.unref();
    worker.on('message', (result: SendResult) => {
      answered = true;
      this.failedStarts = 0;
      const waiting = pending.get(result.id);
      if (!waiting) return;
      pending.delete(result.id);
      if (pending.size === 0) worker.unref();
      if (result.failure) waiting.reject(rebuild(result.failure));
      else waiting.resolve();
    });
    const onLost = (reason: string) => {
      if (lost) return;
      lost = true;
      if (this.current === thread) this.current = undefined;
      const waiting = [...pending.values()];
      pending.clear();
      // Closed or not, every message still in flight is answered: a thread
      // that dies after close() must not leave its senders waiting for ever.
      if (!this.closed) {
        this.logger.error({ reason, in_flight: waiting.length }, 'SMTP thread ended; its messages will be retried');
        if (!answered && ++this.failedStarts >= MAX_FAILED_STARTS) {
          this.logger.error({ attempts: this.failedStarts }, 'SMTP thread cannot start; sending from the main thread instead');
          this.inProcess = createSmtpTransport(this.smtp);
        }
      }
      for (const { reject } of waiting) reject(Object.assign(new Error(reason), { code: 'ETHREAD' }));
    };
    worker.on('error', (err) => onLost(`SMTP thread failed: ${err.message}`));
    worker.on('exit', (code) => onLost(`SMTP thread exited (${code})`));
    this.current = thread;
    return thread;
  }
}

/**
 * The thread: one pooled SMTP transport, sending what it is given. Run by
 * the thread's own entry file, `threads/smtp.ts` (`dist/threads/smtp.js`).
 */
export function runSmtpThread(): void {
  const port = parentPort;
  if (!port || (workerData as { kind?: string } | null)?.kind !== THREAD_KIND) return;
  const { smtp } = workerData as { smtp: SmtpTransportSettings };
  const transport = createSmtpTransport(smtp);
  const inFlight = new Map<number, AbortController>();
  let closing = false;
  const finish = () => {
    if (!closing || inFlight.size > 0) return;
    transport.close();
    port.close();
  };
  port.on('message', (request: SendRequest | AbortRequest | { type: 'close' }) => {
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
      () => port.postMessage({ id: request.id } satisfies SendResult),
      (err: unknown) => {
        const e = err as { message?: string; code?: unknown; responseCode?: unknown };
        const failure: SendFailure = {
          permanent: err instanceof PermanentDeliveryError,
          message: String(e.message ?? err),
          code: typeof e.code === 'string' ? e.code : undefined,
          responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
        };
        port.postMessage({ id: request.id, failure } satisfies SendResult);
      },
    ).finally(() => {
      inFlight.delete(request.id);
      finish();
    });
  });
}
