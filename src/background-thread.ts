/**
 * The module's one worker thread, hosting its background jobs: the SQLite
 * WAL checkpoints (`store/wal-checkpointer.ts`) and SMTP
 * (`delivery/smtp-thread.ts`). Each thread is a V8 heap of its own (some
 * 10 MB at idle, measured); two jobs that each spend most of their time
 * waiting share one.
 *
 * This file is both sides of the protocol: {@link BackgroundThread} for the
 * module, and {@link serveJobs} for the thread's entry file,
 * `threads/background.ts` (`dist/threads/background.js`). Messages carry
 * their job's name; a job that ends (closed, or failed: a checkpoint on a
 * full disk) leaves the thread and the other job running. When no job is
 * left, the host tells the thread to exit.
 */
import { parentPort, Worker, type MessagePort } from 'node:worker_threads';
import { threadEntryFile } from './package-files';

export type JobName = 'checkpoint' | 'smtp';

/** What a job hears from its side of the thread. */
export interface JobHandlers {
  message(message: Record<string, unknown>): void;
  /** The job ended on the thread (it was closed, or gave up); the thread lives on. */
  ended(): void;
  /** The thread itself ended (crashed, could not load, was terminated). */
  lost(reason: string): void;
}

/** The module's handle on one job running on the thread. */
export interface Job {
  post(message: Record<string, unknown>): void;
  /** Keeps the process alive until {@link release} (the thread keeps nothing alive otherwise). */
  hold(): void;
  release(): void;
  /** Ends the whole thread at once (the job stopping took too long). */
  terminate(): Promise<void>;
}

/**
 * Heap limits of the thread. The checkpoints allocate almost nothing; SMTP
 * holds a few dozen messages in flight. V8's defaults would let garbage
 * pile up to tens of megabytes before collecting it.
 */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 96 };

interface Running {
  readonly worker: Worker;
  readonly jobs: Map<JobName, JobHandlers>;
  holds: number;
}

export class BackgroundThread {
  private running: Running | undefined;

  constructor(private readonly entry: string) {}

  /** A host for jobs, or undefined when the thread's entry file (`dist/threads/background.js`) is missing. */
  static create(entry = threadEntryFile('background')): BackgroundThread | undefined {
    return entry ? new BackgroundThread(entry) : undefined;
  }

  /**
   * Starts `name` on the thread (starting the thread if it is not running)
   * with `data`. A job is opened again only once it has ended or was lost.
   */
  open(name: JobName, data: unknown, handlers: JobHandlers): Job {
    const running = this.running ?? this.start();
    running.jobs.set(name, handlers);
    running.worker.postMessage({ job: name, type: 'open', data });
    const owns = () => running.jobs.get(name) === handlers;
    let holding = false;
    return {
      post: (message) => {
        if (owns()) running.worker.postMessage({ ...message, job: name });
      },
      hold: () => {
        if (holding) return;
        holding = true;
        if (running.holds++ === 0) running.worker.ref();
      },
      release: () => {
        if (!holding) return;
        holding = false;
        if (--running.holds === 0) running.worker.unref();
      },
      terminate: async () => {
        await running.worker.terminate();
      },
    };
  }

  private start(): Running {
    const worker = new Worker(this.entry, { resourceLimits: RESOURCE_LIMITS });
    const running: Running = { worker, jobs: new Map(), holds: 0 };
    this.running = running;
    worker.unref();
    worker.on('message', (message: { job?: JobName; type?: string }) => {
      const handlers = message.job && running.jobs.get(message.job);
      if (!handlers || !message.job) return;
      if (message.type !== 'ended') return handlers.message(message);
      running.jobs.delete(message.job);
      if (running.jobs.size === 0) {
        // Nothing left for it: the thread exits, and a later job starts another.
        if (this.running === running) this.running = undefined;
        worker.postMessage({ type: 'exit' });
      }
      handlers.ended();
    });
    let reason: string | undefined;
    worker.on('error', (err: Partial<Error> & { code?: string }) => (reason ??= err.message ?? err.code ?? String(err)));
    worker.on('exit', (code) => {
      if (this.running === running) this.running = undefined;
      const lost = [...running.jobs.values()];
      running.jobs.clear();
      for (const handlers of lost) handlers.lost(reason ?? `exited (${code})`);
    });
    return running;
  }
}

/** A job's side of the thread: what it posts goes to its handlers on the module's side. */
export interface JobPort {
  post(message: Record<string, unknown>): void;
  onMessage(listener: (message: Record<string, unknown> & { type: string }) => void): void;
  /** The job is over: the module is told, and the thread exits once no job is left. */
  end(): void;
}

export type JobRunner = (port: JobPort, data: unknown) => void;

/** The thread: runs each job it is told to open, and routes messages to it. */
export function serveJobs(runners: Record<JobName, JobRunner>, port: MessagePort | null = parentPort): void {
  if (!port) return;
  const listeners = new Map<string, (message: Record<string, unknown> & { type: string }) => void>();
  port.on('message', (message: Record<string, unknown> & { job?: JobName; type: string; data?: unknown }) => {
    if (message.type === 'exit') return port.close();
    const name = message.job;
    if (!name || !Object.hasOwn(runners, name)) return;
    if (message.type !== 'open') return listeners.get(name)?.(message);
    let ended = false;
    const jobPort: JobPort = {
      post: (payload) => {
        if (!ended) port.postMessage({ ...payload, job: name });
      },
      onMessage: (listener) => listeners.set(name, listener),
      end: () => {
        if (ended) return;
        ended = true;
        listeners.delete(name);
        port.postMessage({ job: name, type: 'ended' });
      },
    };
    runners[name](jobPort, message.data);
  });
}
