import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './e2e-utils';
import { removeDir, tempDir } from './harness';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
/** Synapse 1.67's source and its scripts, beside the repository (read-only: everything it writes goes to a temp dir). */
export const SYNAPSE_LAB = path.resolve(ROOT, '..', 'shared', 'lab', 'synapse');

export interface SynapseOptions {
  /** `account_threepid_delegates.msisdn`: the server whose identity-service v1 API validates phone numbers. */
  readonly msisdnDelegate?: string;
  /** `registrations_require_3pid`. */
  readonly require3pid?: 'email' | 'msisdn';
}

export interface RunningSynapse {
  /** The client-server API, e.g. http://127.0.0.1:PORT (also Synapse's `public_baseurl`, with a slash). */
  readonly url: string;
  /** Synapse's own logs, for a failing test's message. */
  logs(): string;
  stop(): Promise<void>;
}

async function script(name: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await run('bash', [path.join(SYNAPSE_LAB, name)], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`${SYNAPSE_LAB}/${name} failed: ${(err as Error).message}\n${stdout}\n${stderr}`);
  }
}

/**
 * Synapse 1.67 from the lab's scripts, on free loopback ports, with its
 * state in a temp dir: `setup.sh` (idempotent; installs Debian's python3-*
 * packages with apt-get when missing, then unpacks the source), then
 * `start.sh`, which answers once `/versions` does. `stop()` runs `stop.sh`
 * (which kills only the pids it wrote) and removes the temp dir.
 */
export async function startSynapse(options: SynapseOptions = {}): Promise<RunningSynapse> {
  const labDir = tempDir('threepid-synapse-');
  const port = await freePort();
  let smtpPort = await freePort();
  while (smtpPort === port) smtpPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LAB_DIR: labDir,
    SYNAPSE_PORT: String(port),
    SMTP_PORT: String(smtpPort),
    MSISDN_DELEGATE: options.msisdnDelegate ?? '',
    REQUIRE_3PID: options.require3pid ?? '',
  };
  const logs = () =>
    ['synapse.out', 'homeserver.log']
      .map((file) => path.join(labDir, file))
      .filter((file) => existsSync(file))
      .map((file) => `--- ${path.basename(file)}\n${readFileSync(file, 'utf8').slice(-8000)}`)
      .join('\n');
  const stop = async () => {
    try {
      await script('stop.sh', env, 60_000);
    } finally {
      removeDir(labDir);
    }
  };
  try {
    await script('setup.sh', env, 20 * 60_000);
    await script('start.sh', env, 180_000);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, logs, stop };
}
