import { z } from 'zod';
import type { ListenerSettings } from '../http/listener';
import { duration, section, type Settings } from './common';

const listener = (port: number, limits: { maxConnections: number; perIp: number }) =>
  section(
    z
      .object({
        host: z.string().min(1).default('127.0.0.1').describe('The address to listen on.'),
        port: z.number().int().min(0).max(65535).default(port).describe('The port to listen on.'),
        max_connections: z.number().int().min(0).default(limits.maxConnections).describe('Sockets open at once (0: no cap); over it, new connections are closed at once. Capped at half the process\'s file descriptor limit.'),
        max_connections_per_ip: z.number().int().min(0).default(limits.perIp).describe('Sockets open at once from one client address, an IPv6 client counted by its /64 (0: no cap). Peers in `trusted_proxies` are exempt.'),
        header_timeout: duration('10s').describe('The request head must arrive within this (else 408 and the socket is closed); at most `request_timeout`.'),
        request_timeout: duration('30s').describe('The whole request must arrive within this.'),
        keep_alive_timeout: duration('5s').describe('An idle keep-alive socket is closed after this.'),
      })
      .strict()
      .default({})
      .superRefine((value, ctx) => {
        if (value.header_timeout < 1 || value.header_timeout > value.request_timeout) {
          ctx.addIssue({ code: 'custom', path: ['header_timeout'], message: 'must be above 0 and at most request_timeout' });
        }
      }),
  );

/** `listeners`: the public (client) and the internal listener. */
export const LISTENERS = section(
  z
    .object({
      // The internal listener is the homeserver's alone: no caps by default.
      client: listener(8090, { maxConnections: 1000, perIp: 100 }).describe(
        'The public listener: the requestToken endpoints, `submit_url`, the email link page, `/_matrix/client/versions`. Route it from the reverse proxy.',
      ),
      internal: listener(8091, { maxConnections: 0, perIp: 0 }).describe(
        'The internal listener: the homeserver\'s API and the identity-service v1 API. Never route it from the public proxy.',
      ),
    })
    .strict()
    .default({}),
);

function toListener(raw: z.output<typeof LISTENERS>['client']): ListenerSettings {
  return {
    host: raw.host,
    port: raw.port,
    maxConnections: raw.max_connections,
    maxConnectionsPerIp: raw.max_connections_per_ip,
    headerTimeoutMs: raw.header_timeout,
    requestTimeoutMs: raw.request_timeout,
    keepAliveTimeoutMs: raw.keep_alive_timeout,
  };
}

export function toListeners(raw: z.output<typeof LISTENERS>) {
  return { client: toListener(raw.client), internal: toListener(raw.internal) };
}

export type ListenersSettings = Settings<ReturnType<typeof toListeners>>;
