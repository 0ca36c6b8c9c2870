import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './e2e-utils';
import { tempDir } from './harness';
import { startProxyProcess } from './proxy-process';

const ROOT = path.resolve(__dirname, '../..');
/** The nginx configuration the README shows; the tests run exactly this, with their own ports. */
export const NGINX_TEMPLATE = path.join(ROOT, 'examples', 'nginx', 'threepid.conf');
const SETUP_SCRIPT = path.join(ROOT, 'test', 'support', 'setup-nginx.sh');

/** Installs nginx from Debian's packages when missing (the project's own script); returns the binary. */
export function setupNginx(): string {
  try {
    execFileSync('bash', [SETUP_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    throw new Error(`test/support/setup-nginx.sh failed:\n${stderr}`);
  }
  const binary = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((file) => existsSync(file));
  return binary ?? 'nginx';
}

/** Replaces `from` (which must occur exactly once) with `to`. */
function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  if (parts.length !== 2) throw new Error(`${NGINX_TEMPLATE}: expected "${from}" exactly once`);
  return parts.join(to);
}

/** The template with the test's ports in place of the README's 8080, 8090 and 8008. */
export function renderNginxConfig(ports: { listen: number; sidecar: number; homeserver: number }): string {
  let config = readFileSync(NGINX_TEMPLATE, 'utf8');
  config = replaceOnce(config, 'listen 127.0.0.1:8080;', `listen 127.0.0.1:${ports.listen};`);
  config = replaceOnce(config, 'server 127.0.0.1:8090;', `server 127.0.0.1:${ports.sidecar};`);
  return replaceOnce(config, 'server 127.0.0.1:8008;', `server 127.0.0.1:${ports.homeserver};`);
}

export interface RunningNginx {
  url: string;
  port: number;
  /** One line a request: `"POST /path HTTP/1.1" 200 127.0.0.1:PORT` (the upstream that answered). */
  accessLog(): string;
  close(): Promise<void>;
}

const portOf = (url: string) => Number(new URL(url).port);

/**
 * nginx in the foreground as a child process, with everything it writes
 * (pid, logs, temp files) in a temp dir: the system's own nginx setup is
 * never read or touched.
 */
export async function startNginx(
  binary: string,
  upstreams: {
    sidecarUrl: string;
    homeserverUrl: string;
    port?: number;
    /** A variant of the README's configuration, made from it (e.g. the module under a path prefix). */
    variant?: (config: string) => string;
  },
): Promise<RunningNginx> {
  const dir = tempDir('threepid-nginx-');
  chmodSync(dir, 0o755); // nginx's workers drop root: they must reach the temp paths.
  const port = upstreams.port ?? (await freePort());
  const site = path.join(dir, 'threepid.conf');
  const config = renderNginxConfig({ listen: port, sidecar: portOf(upstreams.sidecarUrl), homeserver: portOf(upstreams.homeserverUrl) });
  writeFileSync(site, upstreams.variant ? upstreams.variant(config) : config);
  const main = path.join(dir, 'nginx.conf');
  writeFileSync(
    main,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 256; }',
      'http {',
      `    log_format routed '"$request" $status $upstream_addr';`,
      `    access_log ${dir}/access.log routed;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${dir}/${kind}_temp;`),
      `    include ${site};`,
      '}',
      '',
    ].join('\n'),
  );
  const errorLog = () => (existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : '');
  const url = `http://127.0.0.1:${port}`;
  const running = await startProxyProcess({
    binary,
    args: ['-p', dir, '-c', main, '-e', `${dir}/error.log`],
    url,
    dir,
    diagnostics: errorLog,
  });
  return {
    url,
    port,
    accessLog: () => readFileSync(`${dir}/access.log`, 'utf8'),
    close: () => running.close(),
  };
}
