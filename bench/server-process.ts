import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pinning } from './pinning';
import type { ChildMessage, ParentMessage, ServerSpec, Usage } from './protocol';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** A `bench/server.ts` child: its URL, its memory, and a clean stop. */
export class ServerProcess {
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly name: string,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
  }

  /**
   * Starts a server and waits until it listens. With `profileDir`, the child
   * runs under `--cpu-prof` and writes its profiles into `<profileDir>/<name>/`
   * when stopped: Node's own file names, one per thread (the main thread's
   * has thread id 0 in its name).
   */
  static start(name: string, spec: ServerSpec, pinning: Pinning, profileDir?: string): Promise<ServerProcess> {
    const execArgv = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, name)}`] : [];
    // Started through `taskset` when pinned: fork() cannot, so it is spawn() with an IPC channel.
    const { command, args } = pinning.wrap([process.execPath, ...execArgv, path.join(__dirname, 'server.js'), JSON.stringify(spec)]);
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name}: server not ready after ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name}: server exited (${code}) before it was ready`));
      });
      child.once('message', (message: ChildMessage) => {
        clearTimeout(timer);
        if (message.type !== 'ready') return reject(new Error(`${name}: unexpected message ${JSON.stringify(message)}`));
        resolve(new ServerProcess(child, name, `http://127.0.0.1:${message.port}`));
      });
    });
  }

  /** Asks the child for its RSS and the CPU time it has used. */
  usage(): Promise<Usage> {
    this.assertAlive();
    return new Promise((resolve) => {
      const onMessage = (message: ChildMessage) => {
        if (message.type !== 'usage') return;
        this.child.off('message', onMessage);
        resolve(message);
      };
      this.child.on('message', onMessage);
      this.send({ type: 'usage' });
    });
  }

  /** Resident set size in bytes: read from /proc where there is one (the child does no work for it), else asked. */
  async rss(): Promise<number> {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (kb) return Number(kb[1]) * 1024;
    } catch {
      // No procfs, or the child is gone.
    }
    return (await this.usage()).rss;
  }

  /** Samples RSS every `intervalMs` until the returned function is called; it answers the peak. */
  sampleRss(intervalMs = 100): () => number {
    let peak = 0;
    // A child that died is reported by assertAlive() after the run, not here.
    const sample = () =>
      void this.rss().then(
        (rss) => (peak = Math.max(peak, rss)),
        () => undefined,
      );
    sample();
    const timer = setInterval(sample, intervalMs);
    return () => {
      clearInterval(timer);
      return peak;
    };
  }

  /** Throws if the server died under load: its figures would mean nothing. */
  assertAlive(): void {
    if (this.exitCode !== undefined) throw new Error(`${this.name}: server exited (${this.exitCode}) during the run`);
  }

  /** Asks the server to close (the module finishes its outbox round and closes the database). */
  async stop(): Promise<void> {
    this.assertAlive();
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    if (this.exitCode !== 0) throw new Error(`${this.name}: server exited with ${this.exitCode} when stopped`);
  }

  /** Ends the child whatever its state (for clean-up after a failure). */
  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
  }

  private send(message: ParentMessage): void {
    this.child.send(message);
  }
}
