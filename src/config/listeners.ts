import { z } from 'zod';
import type { ListenerSettings } from '../http/listener';
import { duration, section, type Settings } from './common';

const listener = (port: number, limits: { maxConnections: number; perIp: number }) =>
  section(
    z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(port),
        max_connections: z.number().int().min(0).default(limits.maxConnections),
        max_connections_per_ip: z.number().int().min(0).default(limits.perIp),
        header_timeout: duration('10s'),
        request_timeout: duration('30s'),
        keep_alive_timeout: duration('5s'),
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
      client: listener(8090, { maxConnections: 1000, perIp: 100 }),
      internal: listener(8091, { maxConnections: 0, perIp: 0 }),
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
