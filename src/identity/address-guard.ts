import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';

/**
 * Decides whether the module may connect to an IP address. Only public
 * unicast addresses pass, unless the operator whitelisted a range
 * (`identity_server.ip_range_whitelist`, Synapse's naming): loopback,
 * private, link-local, multicast, reserved and the like never do by default.
 */
export class AddressGuard {
  private readonly whitelist: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

  constructor(whitelist: readonly string[]) {
    this.whitelist = whitelist.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  allows(address: string): boolean {
    if (!ipaddr.isValid(address)) return false;
    let ip = ipaddr.parse(address);
    // ::ffff:10.0.0.1 is 10.0.0.1.
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
    for (const range of this.whitelist) {
      if (range[0].kind() === ip.kind() && ip.match(range)) return true;
    }
    return ip.range() === 'unicast';
  }

  /**
   * A `lookup` for `http.request` that resolves the name and refuses when any
   * address it would connect to is not allowed. Used as the connection's own
   * lookup, the address checked is the address connected to: a second DNS
   * answer (rebinding) cannot slip past it.
   */
  readonly lookup = (
    hostname: string,
    options: object,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const refused = list.find((entry) => !this.allows(entry.address));
      if (refused || list.length === 0) {
        const error: NodeJS.ErrnoException = new BlockedAddressError(hostname);
        return callback(error, []);
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}

/** The identity server's name resolved to an address the module may not call. */
export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
  constructor(host: string) {
    super(`${host} resolves to an address that is not allowed`);
    this.name = 'BlockedAddressError';
  }
}
