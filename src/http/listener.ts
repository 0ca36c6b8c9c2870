import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import proxyaddr from 'proxy-addr';
import type { Logger } from '../logger';
import { normaliseIp, rateLimitKey } from './client-ip';

/** One listener's address and the limits its sockets get (0: no cap). */
export interface ListenerSettings {
  readonly host: string;
  readonly port: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly headerTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

/**
 * The process's limit on open file descriptors (the soft `RLIMIT_NOFILE`,
 * which Node.js raises to the hard limit when it starts), from
 * `/proc/self/limits`; undefined where there is no such file. Node has no
 * `getrlimit`, and `ulimit -n` in a shell shows the shell's limit, not ours.
 */
export function openFileLimit(limitsFile = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limitsFile, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every socket is a file descriptor, and the process has one pool of them
 * for both listeners, the database, SMTP and log files. A public listener
 * allowed to hold all of them starves the internal one (the homeserver's
 * calls, /health, /ready), so the public side gets at most half.
 */
export function connectionCap(configured: number, fdLimit: number | undefined): number {
  if (configured === 0 || fdLimit === undefined) return configured;
  return Math.min(configured, Math.max(1, Math.floor(fdLimit / 2)));
}

/**
 * An HTTP server with the limits a reverse proxy would apply: the whole
 * request head within `header_timeout` (a socket that sends nothing, or half
 * a header, is answered 408 and closed), the whole request within
 * `request_timeout`, idle keep-alive sockets closed after
 * `keep_alive_timeout`, and at most `max_connections` sockets at once, and
 * `max_connections_per_ip` from one client (an IPv6 client by its /64).
 * Trusted proxies are exempt from the per-IP cap: every client behind them
 * shares their address. Connections over a cap are closed at once.
 */
export function createListener(
  app: RequestListener,
  settings: ListenerSettings,
  options: { readonly trustedProxies?: readonly string[]; readonly logger?: Logger; readonly fdLimit?: number } = {},
): Server {
  const server = createServer(
    {
      headersTimeout: settings.headerTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      // How often those timeouts are checked (Node's default, 30 s, lets a socket outstay them by that much).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(settings.headerTimeoutMs / 4))),
    },
    app,
  );

  const fdLimit = 'fdLimit' in options ? options.fdLimit : openFileLimit();
  const cap = connectionCap(settings.maxConnections, fdLimit);
  if (cap < settings.maxConnections) {
    options.logger?.warn(
      { max_connections: settings.maxConnections, open_file_limit: fdLimit, capped_at: cap },
      'max_connections is more than half the process’s file descriptor limit: capped, so the internal listener keeps descriptors',
    );
  }
  if (cap > 0) server.maxConnections = cap;

  if (settings.maxConnectionsPerIp > 0) {
    const trusted = proxyaddr.compile([...(options.trustedProxies ?? [])]);
    const open = new Map<string, number>();
    server.on('connection', (socket: Socket) => {
      const ip = normaliseIp(socket.remoteAddress ?? '');
      if (ip === undefined) return void socket.destroy();
      if (trusted(ip, 0)) return;
      const key = rateLimitKey(ip);
      const count = (open.get(key) ?? 0) + 1;
      if (count > settings.maxConnectionsPerIp) return void socket.destroy();
      open.set(key, count);
      socket.once('close', () => {
        const left = (open.get(key) ?? 1) - 1;
        if (left === 0) open.delete(key);
        else open.set(key, left);
      });
    });
  }
  return server;
}
