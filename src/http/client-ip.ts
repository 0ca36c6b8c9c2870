import type { Request } from 'express';
import proxyaddr from 'proxy-addr';

/**
 * The client's IP: the socket's peer, or the address a trusted proxy put in
 * `X-Forwarded-For`. Only proxies listed in `trusted_proxies` are believed,
 * so a client cannot pick its own rate-limit key.
 */
export function clientIpResolver(trustedProxies: readonly string[]): (req: Request) => string {
  const trust = proxyaddr.compile([...trustedProxies]);
  return (req) => proxyaddr(req, trust);
}
