import { z } from 'zod';
import { isBareHost } from '../hosts';
import { cidrRanges, duration, section, type Report, type Settings } from './common';

/** `identity_server`: proxying requests that name an identity server (MSC2140) to the trusted ones. */
export const IDENTITY_SERVER = section(
  z
    .object({
      proxy: z.boolean().default(false).describe('true: a requestToken that names an `id_server` (with an `id_access_token`) is forwarded to that identity server instead of being verified here.'),
      trusted: z.array(z.string().min(1)).default([]).describe('`host` or `host:port` of the identity servers that may be named; others get M_SERVER_NOT_TRUSTED.'),
      allow_http: z.boolean().default(false).describe('Call identity servers over plain http. For tests and development only.'),
      ip_range_whitelist: z.array(z.string().min(1)).default([]).describe('CIDR ranges of internal addresses identity servers may be called at: loopback, private and link-local addresses are refused unless inside one (checked on the address connected to).'),
      timeout: duration('10s').describe('The deadline of one call to an identity server.'),
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
      enabled: z.boolean().default(true).describe('Serve the v1 validation API on the internal listener.'),
      allowed_callers: z.array(z.string().min(1)).default(['127.0.0.0/8', '::1/128']).describe('CIDR ranges of the homeservers\' socket addresses (not X-Forwarded-For); other callers get 403 M_FORBIDDEN.'),
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
