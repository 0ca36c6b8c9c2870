import { AddressGuard } from '../../../src/identity/address-guard';
import { isBareHost } from '../../../src/hosts';

describe('AddressGuard', () => {
  const guard = new AddressGuard([]);

  it.each([
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1',
    '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1',
  ])('refuses the internal address %s', (address) => {
    expect(guard.allows(address)).toBe(false);
  });

  it.each(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '::ffff:93.184.216.34'])('allows the public address %s', (address) => {
    expect(guard.allows(address)).toBe(true);
  });

  it('allows whitelisted ranges only', () => {
    const whitelisted = new AddressGuard(['127.0.0.1/32', '10.0.0.0/8']);
    expect(whitelisted.allows('127.0.0.1')).toBe(true);
    expect(whitelisted.allows('10.9.9.9')).toBe(true);
    expect(whitelisted.allows('127.0.0.2')).toBe(false);
    expect(whitelisted.allows('::1')).toBe(false);
  });

  it('refuses what is not an IP address', () => {
    expect(guard.allows('example.org')).toBe(false);
  });

  it('resolves names and refuses when an answer is internal', async () => {
    const lookup = (host: string) =>
      new Promise<unknown>((resolve) => guard.lookup(host, {}, (err, address) => resolve(err ? err.message : address)));
    expect(await lookup('localhost')).toMatch(/not allowed/);
  });
});

describe('isBareHost', () => {
  it.each(['id.example.org', 'id.example.org:8090', '127.0.0.1:1', '[::1]:443'])('accepts %s', (host) => {
    expect(isBareHost(host)).toBe(true);
  });
  it.each(['https://id.example.org', 'id.example.org/path', 'user@id.example.org', 'id.example.org:0', 'id.example.org:65536', '', 'a b'])(
    'refuses %s',
    (host) => {
      expect(isBareHost(host)).toBe(false);
    },
  );
});
