import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Pinning } from './pinning';
import type { Row } from './report';

/** Starts measured; the median is judged. */
const RUNS = 5;
const GIVE_UP_MS = 30_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One GET; resolves with its status, or undefined while nothing listens yet. */
function status(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/_matrix/client/versions', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * One start of the sidecar as an operator runs it (`node dist/cli.js
 * --config FILE`, a SQLite file created on this start, no SMTP: the
 * development mail folder), on the server's core: the time from spawn()
 * to the first 200 from `/_matrix/client/versions`, asked again as soon as
 * the last try failed.
 */
async function startOnce(dir: string, pinning: Pinning): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const [client, internal] = [await freePort(), await freePort()];
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `public_baseurl: http://127.0.0.1:${client}/`,
      'listeners:',
      `  client: { host: 127.0.0.1, port: ${client} }`,
      `  internal: { host: 127.0.0.1, port: ${internal} }`,
      `database: { path: ${JSON.stringify(path.join(dir, 'threepid.sqlite'))} }`,
      `email: { dev_mail_dir: ${JSON.stringify(path.join(dir, 'mail'))} }`,
      `sms: { dev_sms_dir: ${JSON.stringify(path.join(dir, 'sms'))} }`,
      '',
    ].join('\n'),
  );
  const cli = path.resolve(__dirname, '../../dist/cli.js');
  const { command, args } = pinning.wrap([process.execPath, cli, '--config', config]);
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  try {
    for (;;) {
      const answer = await status(client);
      if (answer === 200) return performance.now() - started;
      if (exitedEarly) throw new Error(`the sidecar exited before it answered:\n${stderr}`);
      if (performance.now() - started > GIVE_UP_MS) throw new Error(`the sidecar did not answer within ${GIVE_UP_MS} ms:\n${stderr}`);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** {@link RUNS} starts, each on a new folder (migrations and key files included). */
export async function measureStartup(dir: string, pinning: Pinning): Promise<{ row: Row; samplesMs: number[] }> {
  const samplesMs: number[] = [];
  for (let run = 0; run < RUNS; run++) samplesMs.push(await startOnce(path.join(dir, `startup-${run}`), pinning));
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return {
    samplesMs,
    row: {
      name: 'startup',
      description: 'process start to first answered request (median of 5 starts)',
      rate: median,
      unit: 'ms',
      peakRssBytes: 0,
      count: RUNS,
      cpuMicrosPerItem: Number.NaN,
    },
  };
}
