import { spawn, type ChildProcess } from 'node:child_process';
import { eventually } from './e2e-utils';
import { removeDir } from './harness';

export interface ProxyProcess {
  close(): Promise<void>;
}

/**
 * A reverse proxy (nginx, caddy) in the foreground as a child process, ready
 * once `url` answers anything; `close()` stops it and removes `dir`, its
 * temp folder. If it does not come up, its output is in the error.
 */
export async function startProxyProcess(options: {
  binary: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  url: string;
  dir: string;
  /** Extra text for a failed start (e.g. nginx's error log). */
  diagnostics?: () => string;
}): Promise<ProxyProcess> {
  const name = options.binary.split('/').pop();
  let output = '';
  const child: ChildProcess = spawn(options.binary, options.args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}\n${options.diagnostics?.() ?? ''}`);
      return fetch(`${options.url}/proxy-ready-check`).then(() => true, () => false);
    }, `${name} to listen`);
  } catch (err) {
    child.kill('SIGKILL');
    removeDir(options.dir);
    throw err;
  }
  return {
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      removeDir(options.dir);
    },
  };
}
