import type { Request } from 'express';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';
import { ThreepidError } from '../threepid/errors';

/**
 * One spelling per address: IPv4 as four plain decimal parts, IPv4-mapped
 * IPv6 (`::ffff:10.7.7.7`) as the IPv4 address it maps, other IPv6 in its
 * RFC 5952 form without a zone. Anything else is undefined: forms that
 * `inet_aton` reads one way and a string compare another (`10.7.7.07`,
 * `0x0a.7.7.7`, `10.7.7`), or an address with a port (`10.7.7.7:1234`).
 */
export function normaliseIp(raw: string): string | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(raw)) return ipaddr.IPv4.parse(raw).toString();
  if (!raw.includes(':') || !ipaddr.IPv6.isValid(raw)) return undefined;
  const v6 = ipaddr.IPv6.parse(raw);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  // A zone names the receiving interface, not the client.
  return new ipaddr.IPv6(v6.parts).toString();
}

/**
 * The key an address is rate-limited by: an IPv4 address itself, an IPv6
 * address's /64 (the smallest prefix a site is given: one client holds a
 * whole /64, and would otherwise have 2^64 buckets).
 */
export function rateLimitKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const parts = ipaddr.IPv6.parse(ip).parts;
  return `${new ipaddr.IPv6([...parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}

/**
 * The client's IP, normalised (see {@link normaliseIp}): the socket's peer,
 * or the address a trusted proxy put in `X-Forwarded-For`. Only proxies
 * listed in `trusted_proxies` are believed, so a client cannot pick its own
 * rate-limit key. An address that does not parse is `400 M_INVALID_PARAM`:
 * it has no key of its own, and sharing one (the proxy's) would let whoever
 * can put garbage there use up everyone's budget.
 */
export function clientIpResolver(trustedProxies: readonly string[]): (req: Request) => string {
  const trust = proxyaddr.compile([...trustedProxies]);
  return (req) => {
    const ip = normaliseIp(proxyaddr(req, trust) ?? '');
    if (ip === undefined) throw new ThreepidError('M_INVALID_PARAM', 'The client address forwarded by the proxy is not an IP address');
    return ip;
  };
}
