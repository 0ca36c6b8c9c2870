import type { Request } from 'express';
import { ConfigError, parseConfig } from '../../../src/config';
import { allowCallers } from '../../../src/http/identity-service-router';
import { ThreepidError } from '../../../src/threepid/errors';
import { thrown } from '../../support/thrown';

/** What the check passes to next() for a socket address. */
function verdict(cidrs: readonly string[], remoteAddress: string | undefined): unknown {
  let passed: unknown = 'not called';
  allowCallers(cidrs)({ socket: { remoteAddress } } as Request, {} as never, (err?: unknown) => (passed = err));
  return passed;
}

describe('identity_service_api.allowed_callers', () => {
  it('defaults to loopback, IPv4 and IPv6, and IPv4-mapped IPv6 counts as IPv4', () => {
    const { allowedCallers } = parseConfig({}).identityServiceApi;
    expect(allowedCallers).toEqual(['127.0.0.0/8', '::1/128']);
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect(verdict(allowedCallers, address)).toBeUndefined();
    }
  });

  it.each(['10.0.0.1', '::2', '::ffff:10.0.0.1', '192.168.1.1', 'not-an-ip', undefined])('refuses %s with M_FORBIDDEN', (address) => {
    const err = verdict(['127.0.0.0/8', '::1/128'], address);
    expect(err).toBeInstanceOf(ThreepidError);
    expect((err as ThreepidError).errcode).toBe('M_FORBIDDEN');
  });

  it('answers a listed private range', () => {
    expect(verdict(['10.1.0.0/16', 'fd00::/8'], '10.1.2.3')).toBeUndefined();
    expect(verdict(['10.1.0.0/16', 'fd00::/8'], 'fd12::3')).toBeUndefined();
  });

  it('reads an IPv4-mapped range as the IPv4 range it stands for, so the callers it names are answered', () => {
    const { identityServer, identityServiceApi } = parseConfig({
      identity_service_api: { allowed_callers: ['::ffff:10.0.0.5/128', '::ffff:10.1.0.0/112', 'fd00::/8'] },
      identity_server: { ip_range_whitelist: ['::ffff:192.168.0.0/120'] },
    });
    expect(identityServiceApi.allowedCallers).toEqual(['10.0.0.5/32', '10.1.0.0/16', 'fd00::/8']);
    expect(identityServer.ipRangeWhitelist).toEqual(['192.168.0.0/24']);
    for (const address of ['10.0.0.5', '::ffff:10.0.0.5', '10.1.200.7']) {
      expect(verdict(identityServiceApi.allowedCallers, address)).toBeUndefined();
    }
    expect(verdict(identityServiceApi.allowedCallers, '10.0.0.6')).toBeInstanceOf(ThreepidError);
  });

  it('refuses a config entry that is not a CIDR range, naming it', () => {
    const err = thrown(ConfigError, () => parseConfig({ identity_service_api: { allowed_callers: ['127.0.0.0/8', '10.0.0.1'] } }));
    expect(err.message).toBe('config: identity_service_api.allowed_callers.1: must be a CIDR range');
  });
});
