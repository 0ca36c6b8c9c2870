import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './e2e-utils';
import { tempDir } from './harness';
import { startProxyProcess } from './proxy-process';

const ROOT = path.resolve(__dirname, '../..');
/** The Caddy configuration the README shows; the tests run exactly this, with their own address and ports. */
export const CADDY_TEMPLATE = path.join(ROOT, 'examples', 'caddy', 'Caddyfile');
const ENSURE = path.join(ROOT, 'test', 'support', 'ensure-debian-packages.sh');

/** Installs caddy from Debian's packages when missing (the project's own script). */
export function setupCaddy(): string {
  try {
    execFileSync('bash', [ENSURE, 'caddy', 'caddy'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  } catch (err) {
    throw new Error(`ensure-debian-packages.sh caddy failed:\n${(err as { stderr?: Buffer }).stderr?.toString() ?? String(err)}`);
  }
  return 'caddy';
}

/**
 * The template with the test's addresses: the site address becomes plain
 * HTTP on loopback, and the README's upstreams 8090 and 8008 the test's.
 * Global options keep Caddy away from the machine: no admin endpoint, no
 * automatic HTTPS.
 */
export function renderCaddyConfig(ports: { listen: number; sidecar: number; homeserver: number }): string {
  const template = readFileSync(CADDY_TEMPLATE, 'utf8');
  const replaceEvery = (text: string, from: string, to: string) => {
    if (!text.includes(from)) throw new Error(`${CADDY_TEMPLATE}: expected "${from}"`);
    return text.split(from).join(to);
  };
  let site = replaceEvery(template, '\nmatrix.example.org {', `\nhttp://127.0.0.1:${ports.listen} {`);
  site = replaceEvery(site, 'reverse_proxy 127.0.0.1:8090', `reverse_proxy 127.0.0.1:${ports.sidecar}`);
  site = replaceEvery(site, 'reverse_proxy 127.0.0.1:8008', `reverse_proxy 127.0.0.1:${ports.homeserver}`);
  return `{\n\tadmin off\n\tauto_https off\n}\n\n${site}`;
}

export interface RunningCaddy {
  url: string;
  close(): Promise<void>;
}

/** Caddy in the foreground as a child process, its data and config folders in a temp dir. */
export async function startCaddy(binary: string, upstreams: { sidecarUrl: string; homeserverUrl: string }): Promise<RunningCaddy> {
  const dir = tempDir('threepid-caddy-');
  const port = await freePort();
  const file = path.join(dir, 'Caddyfile');
  const portOf = (url: string) => Number(new URL(url).port);
  writeFileSync(file, renderCaddyConfig({ listen: port, sidecar: portOf(upstreams.sidecarUrl), homeserver: portOf(upstreams.homeserverUrl) }));
  const url = `http://127.0.0.1:${port}`;
  const running = await startProxyProcess({
    binary,
    args: ['run', '--config', file, '--adapter', 'caddyfile'],
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
    url,
    dir,
  });
  return { url, close: () => running.close() };
}
