import { z } from 'zod';
import { isBareHost } from '../hosts';
import { cidrRanges, duration, section, type Report, type Settings } from './common';

/** `identity_server`: proxying requests that name an identity server (MSC2140) to the trusted ones. */
export const IDENTITY_SERVER = section(
  z
    .object({
      proxy: z.boolean().default(false),
      trusted: z.array(z.string().min(1)).default([]),
      allow_http: z.boolean().default(false),
      ip_range_whitelist: z.array(z.string().min(1)).default([]),
      timeout: duration('10s'),
    })
    .strict()
    .default({}),
);

export function toIdentityServer(raw: z.output<typeof IDENTITY_SERVER>, report: Report) {
  raw.trusted.forEach((host, index) => {
    if (!isBareHost(host)) report(`identity_server.trusted.${index}`, 'must be host or host:port');
  });
  return {
    /** Forward requests that carry `id_server` to that identity server (MSC2140). */
    proxy: raw.proxy,
    /** `host[:port]` of the identity servers that may be used, lower-cased. */
    trusted: raw.trusted.map((host) => host.toLowerCase()),
    allowHttp: raw.allow_http,
    ipRangeWhitelist: cidrRanges(raw.ip_range_whitelist, 'identity_server.ip_range_whitelist', report),
    timeoutMs: raw.timeout,
  };
}

/**
 * `identity_service_api`: the identity-service v1 validation API on the
 * internal listener, for homeservers that delegate 3PID validation (Synapse,
 * Dendrite).
 */
export const IDENTITY_SERVICE_API = section(
  z
    .object({
      enabled: z.boolean().default(true),
      allowed_callers: z.array(z.string().min(1)).default(['127.0.0.0/8', '::1/128']),
    })
    .strict()
    .default({}),
);

export function toIdentityServiceApi(raw: z.output<typeof IDENTITY_SERVICE_API>, report: Report) {
  return {
    enabled: raw.enabled,
    /** CIDR ranges of the socket addresses that are answered; others get 403. */
    allowedCallers: cidrRanges(raw.allowed_callers, 'identity_service_api.allowed_callers', report),
  };
}

export type IdentityServerSettings = Settings<ReturnType<typeof toIdentityServer>>;
export type IdentityServiceApiSettings = Settings<ReturnType<typeof toIdentityServiceApi>>;
