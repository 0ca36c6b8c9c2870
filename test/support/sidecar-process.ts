import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { RawConfig } from '../../src/config';
import { eventually, freePort } from './e2e-utils';
import { SHARED_SECRET } from './harness';
import { postgresDatabaseFor, testEngine } from './postgres';

const CLI = path.resolve(__dirname, '../..', 'dist', 'cli.js');

export interface SidecarProcess {
  /** The public listener. */
  readonly url: string;
  /** The internal listener (the JWT API, the identity-service v1 API, /health). */
  readonly internalUrl: string;
  /** What the process wrote so far (JSON log lines, then anything on stderr). */
  output(): string;
  /** Sends the process a signal. */
  kill(signal: NodeJS.Signals): void;
  /** False once the process has exited (or was killed). */
  running(): boolean;
  /** Resolves when the process has exited: its exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals>;
  stop(): Promise<void>;
}

/**
 * The sidecar as an operator runs it: `node dist/cli.js --config FILE`, with
 * a YAML file written into `dir` and both listeners on free loopback ports.
 * Ready once the internal listener's `/health` answers. `stop()` sends
 * SIGTERM (SIGKILL after 10 s) and waits for the exit.
 */
export async function startSidecarProcess(
  dir: string,
  raw: RawConfig,
  /** More settings of the public listener (caps, timeouts). */
  clientListener: Record<string, unknown> = {},
): Promise<SidecarProcess> {
  const clientPort = await freePort();
  let internalPort = await freePort();
  while (internalPort === clientPort) internalPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const internalUrl = `http://127.0.0.1:${internalPort}`;
  const configFile = path.join(dir, 'sidecar.yaml');
  writeFileSync(
    configFile,
    toYaml({
      public_baseurl: url,
      database: { path: path.join(dir, 'threepid.sqlite') },
      email: { dev_mail_dir: path.join(dir, 'mail') },
      ...raw,
      listeners: {
        client: { ...clientListener, host: '127.0.0.1', port: clientPort },
        internal: { host: '127.0.0.1', port: internalPort },
      },
    }),
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  const child = spawn(process.execPath, [CLI, '--config', configFile], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { output, running, exited, stop } = watchProcess(child);
  try {
    await eventually(async () => {
      if (!running()) throw new Error(`the sidecar exited during start:\n${output()}`);
      return fetch(`${internalUrl}/health`).then((res) => res.ok, () => false);
    }, 'the sidecar to answer /health', 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, internalUrl, output, running, exited, kill: (signal) => void child.kill(signal), stop: async () => void (await stop()) };
}

export interface TokenAnswer {
  status: number;
  body: { errcode?: string; sid?: string };
  retryAfter: string | null;
}

/** Asks the sidecar's public listener for a registration token sent to `email`. */
export async function requestEmailToken(
  sidecar: SidecarProcess,
  email: string,
  secret: string,
  signal?: AbortSignal,
): Promise<TokenAnswer> {
  const res = await fetch(`${sidecar.url}/_matrix/client/v3/register/email/requestToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_secret: secret, email, send_attempt: 1 }),
    signal,
  });
  return { status: res.status, body: (await res.json()) as TokenAnswer['body'], retryAfter: res.headers.get('retry-after') };
}

/**
 * `node dist/cli.js --check` on a config with these outbox keys and the
 * database at `file` (on PostgreSQL, the database that stands for it),
 * written into `dir`: its stdout, once it exited 0 with nothing on stderr.
 */
export async function checkOutboxKeys(dir: string, file: string, keys: string[]): Promise<string> {
  const database = testEngine() === 'postgres' ? { engine: 'postgres' as const, url: await postgresDatabaseFor(file) } : { path: file };
  const configFile = path.join(dir, 'check.yaml');
  const config = { public_baseurl: 'https://matrix.example.org', homeserver: { shared_secret: SHARED_SECRET }, database, outbox: { keys } };
  writeFileSync(configFile, toYaml(config));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  const child = spawn(process.execPath, [CLI, '--check', '--config', configFile], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return stdout;
}

export interface WatchedProcess {
  /** What the process wrote so far, stdout and stderr interleaved. */
  output(): string;
  running(): boolean;
  /** Resolves when the process has exited: its exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** SIGTERM (SIGKILL after 10 s), then the exit code or signal. */
  stop(): Promise<number | NodeJS.Signals>;
}

/** Collects a spawned child's output and stops it the way every process test does. */
export function watchProcess(child: ChildProcess): WatchedProcess {
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal!)));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(killer);
    return code;
  };
  return { output: () => output, running, exited, stop };
}
