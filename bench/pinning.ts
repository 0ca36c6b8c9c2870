import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * The set-up: the server under test on one core, the load generator
 * (and the SMTP sink) on the other, so that they never take turns on a core.
 * Pinned with util-linux's `taskset`; off with BENCH_PIN=0, and off by
 * itself where there is no `taskset` or only one core (then say so).
 */
export interface Pinning {
  /** The command and arguments that start `argv` on the server's core. */
  wrap(argv: readonly string[]): { command: string; args: string[] };
  /** How the run was laid out, for the report. */
  readonly summary: string;
}

const SERVER_CORE = 0;
const LOAD_CORE = 1;

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins this process (every thread: autocannon and the sink run here) to the load core, and servers to the other. */
export function pinCores(enabled: boolean): Pinning {
  const cores = os.cpus().length;
  if (!enabled || cores < 2 || !hasTaskset()) {
    const why = !enabled ? 'BENCH_PIN=0' : cores < 2 ? 'one core' : 'no taskset';
    return { wrap: ([command, ...args]) => ({ command: command!, args }), summary: `not pinned (${why})` };
  }
  execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
  return {
    wrap: (argv) => ({ command: 'taskset', args: ['-c', String(SERVER_CORE), ...argv] }),
    summary: `server pinned to core ${SERVER_CORE}, load and SMTP sink to core ${LOAD_CORE}`,
  };
}
