import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfigFile, MIN_SHARED_SECRET_LENGTH, parseConfig } from '../../src/config';
import { removeDir, tempDir } from '../support/harness';
import { thrown as thrownBy } from '../support/thrown';

const LONG_SECRET = 's'.repeat(MIN_SHARED_SECRET_LENGTH);

const configError = (fn: () => unknown): ConfigError => thrownBy(ConfigError, fn);

describe('parseConfig', () => {
  describe('defaults from an empty config', () => {
    const config = parseConfig({});

    it('strips the trailing slash from public_baseurl', () => {
      expect(config.publicBaseurl).toBe('http://localhost:8090');
    });

    it('listens on loopback, client 8090 and internal 8091', () => {
      expect(config.listeners).toEqual({
        client: { host: '127.0.0.1', port: 8090 },
        internal: { host: '127.0.0.1', port: 8091 },
      });
    });

    it('gives tokens one hour, in milliseconds', () => {
      expect(config.email.validationTokenLifetimeMs).toBe(3_600_000);
    });

    it('builds notif_from from app_name and server_name', () => {
      expect(config.serverName).toBe('localhost');
      expect(config.email.appName).toBe('Matrix');
      expect(config.email.notifFrom).toBe('Matrix <noreply@localhost>');
      expect(parseConfig({ server_name: 'example.org', email: { app_name: 'Acme' } }).email.notifFrom).toBe(
        'Acme <noreply@example.org>',
      );
    });

    it('keeps an explicit notif_from', () => {
      expect(parseConfig({ email: { notif_from: 'Ops <ops@example.org>' } }).email.notifFrom).toBe(
        'Ops <ops@example.org>',
      );
    });

    it('has no SMTP (the development file transport is used)', () => {
      expect(config.email.smtp).toBeUndefined();
    });

    it('has the other documented defaults', () => {
      expect(config.database.path).toBe('data/threepid.sqlite');
      expect(config.email.maxAttempts).toBe(12);
      expect(config.nextLinkDomainWhitelist).toBeNull();
      expect(config.inhibit3pidErrors).toBe(false);
      expect(config.rateLimit).toEqual({ perSecond: 0.003, burstCount: 5 });
      expect(config.trustedProxies).toEqual([]);
      expect(config.homeserver.sharedSecret).toBeUndefined();
    });

    it('treats null (an empty YAML document) as {}', () => {
      expect(parseConfig(null)).toEqual(config);
      expect(parseConfig(undefined)).toEqual(config);
    });
  });

  describe('email.validation_token_lifetime', () => {
    it.each([
      ['15m', 900_000],
      ['30s', 30_000],
      [5000, 5000],
      ['1h', 3_600_000],
    ])('accepts %j', (value, ms) => {
      expect(parseConfig({ email: { validation_token_lifetime: value } }).email.validationTokenLifetimeMs).toBe(ms);
    });

    it.each([['soon'], [-1], ['1y'], [0], ['']])('refuses %j, naming the key', (value) => {
      const err = configError(() => parseConfig({ email: { validation_token_lifetime: value as string } }));
      expect(err.path).toBe('email.validation_token_lifetime');
      expect(err.message).toContain('email.validation_token_lifetime');
    });

    it('refuses a value of the wrong type, naming the key', () => {
      const err = configError(() => parseConfig({ email: { validation_token_lifetime: true as unknown as string } }));
      expect(err.path).toBe('email.validation_token_lifetime');
    });
  });

  describe('unknown keys', () => {
    it('names an unknown top-level key', () => {
      const err = configError(() => parseConfig({ smtp_host: 'mail.example.org' }));
      expect(err.message).toContain('smtp_host');
      expect(err.message).toMatch(/unknown key/);
    });

    it('names an unknown nested key and where it is', () => {
      const err = configError(() => parseConfig({ email: { smtp_hostname: 'mail.example.org' } }));
      expect(err.path).toBe('email');
      expect(err.message).toContain('smtp_hostname');
      expect(err.message).toMatch(/unknown key/);
    });

    it('names an unknown key two levels down', () => {
      const err = configError(() => parseConfig({ listeners: { client: { hostname: '0.0.0.0' } } }));
      expect(err.path).toBe('listeners.client');
      expect(err.message).toContain('hostname');
    });
  });

  describe('types', () => {
    it('refuses a quoted smtp_port', () => {
      const err = configError(() => parseConfig({ email: { smtp_host: 'mail', smtp_port: '25' as unknown as number } }));
      expect(err.path).toBe('email.smtp_port');
      expect(err.message).toContain('email.smtp_port');
    });

    it('refuses an out-of-range port', () => {
      expect(configError(() => parseConfig({ listeners: { client: { port: 70000 } } })).path).toBe(
        'listeners.client.port',
      );
    });

    it('refuses a config that is not a mapping', () => {
      expect(() => parseConfig('public_baseurl: x')).toThrow(ConfigError);
      expect(() => parseConfig([])).toThrow(ConfigError);
    });
  });

  describe('smtp', () => {
    it('is built from the smtp_* keys, with port 25 by default and 465 with force_tls', () => {
      expect(parseConfig({ email: { smtp_host: 'mail.example.org' } }).email.smtp).toEqual({
        host: 'mail.example.org',
        port: 25,
        user: undefined,
        pass: undefined,
        requireTransportSecurity: false,
        forceTls: false,
      });
      expect(parseConfig({ email: { smtp_host: 'mail.example.org', force_tls: true } }).email.smtp?.port).toBe(465);
    });

    it('needs smtp_host when other smtp keys are set', () => {
      expect(configError(() => parseConfig({ email: { smtp_port: 587 } })).path).toBe('email.smtp_host');
    });
  });

  describe('homeserver.shared_secret', () => {
    it(`must be at least ${MIN_SHARED_SECRET_LENGTH} characters`, () => {
      const err = configError(() => parseConfig({ homeserver: { shared_secret: 'short' } }));
      expect(err.path).toBe('homeserver.shared_secret');
      expect(err.message).toContain('homeserver.shared_secret');
      expect(err.message).not.toContain('short'); // the secret itself is not echoed
    });

    it('accepts a long enough secret', () => {
      expect(parseConfig({ homeserver: { shared_secret: LONG_SECRET } }).homeserver.sharedSecret).toBe(LONG_SECRET);
    });
  });

  describe('outbox keys', () => {
    const KEY = Buffer.alloc(32, 7).toString('base64');

    it('takes "id:key" entries, the current one first', () => {
      expect(parseConfig({ outbox: { keys: [`new:${KEY}`, `old:${KEY}`] } }).outbox.keys).toEqual([`new:${KEY}`, `old:${KEY}`]);
    });

    it('names the bad entry without echoing the key', () => {
      const err = configError(() => parseConfig({ outbox: { keys: [`k1:${KEY}`, 'k2:c2hvcnQ='] } }));
      expect(err.path).toBe('outbox.keys.1');
      expect(err.message).toContain('32 bytes');
      expect(err.message).not.toContain('c2hvcnQ=');
      expect(configError(() => parseConfig({ outbox: { keys: [`k1:${KEY}`, `k1:${KEY}`] } })).message).toContain('twice');
      expect(configError(() => parseConfig({ outbox: { keys: [KEY] } })).path).toBe('outbox.keys.0');
    });

    it('come from MATRIX_HS_THREEPID_OUTBOX_KEYS before the file', () => {
      const config = parseConfig({ outbox: { key_file: '/nowhere' } }, { MATRIX_HS_THREEPID_OUTBOX_KEYS: `a:${KEY},b:${KEY}` });
      expect(config.outbox).toMatchObject({ keys: [`a:${KEY}`, `b:${KEY}`] });
      expect(config.outbox.keyFile).toBeUndefined();
    });

    it('are keys or a key file, not both', () => {
      expect(configError(() => parseConfig({ outbox: { keys: [`a:${KEY}`], key_file: 'keys' } })).path).toBe('outbox');
    });
  });

  describe('secrets from the environment', () => {
    it('MATRIX_HS_THREEPID_SMTP_PASS overrides email.smtp_pass', () => {
      const config = parseConfig(
        { email: { smtp_host: 'mail', smtp_user: 'u', smtp_pass: 'from-file' } },
        { MATRIX_HS_THREEPID_SMTP_PASS: 'from-env' },
      );
      expect(config.email.smtp?.pass).toBe('from-env');
    });

    it('MATRIX_HS_THREEPID_SHARED_SECRET overrides homeserver.shared_secret', () => {
      const fromEnv = 'e'.repeat(40);
      const config = parseConfig({ homeserver: { shared_secret: LONG_SECRET } }, { MATRIX_HS_THREEPID_SHARED_SECRET: fromEnv });
      expect(config.homeserver.sharedSecret).toBe(fromEnv);
      expect(parseConfig({}, { MATRIX_HS_THREEPID_SHARED_SECRET: fromEnv }).homeserver.sharedSecret).toBe(fromEnv);
    });

    it('checks the length of a secret from the environment too', () => {
      const err = configError(() => parseConfig({}, { MATRIX_HS_THREEPID_SHARED_SECRET: 'short' }));
      expect(err.path).toBe('homeserver.shared_secret');
    });

    it('reads nothing from process.env unless given it', () => {
      const saved = process.env.MATRIX_HS_THREEPID_SHARED_SECRET;
      process.env.MATRIX_HS_THREEPID_SHARED_SECRET = 'e'.repeat(40);
      try {
        expect(parseConfig({}).homeserver.sharedSecret).toBeUndefined();
      } finally {
        if (saved === undefined) delete process.env.MATRIX_HS_THREEPID_SHARED_SECRET;
        else process.env.MATRIX_HS_THREEPID_SHARED_SECRET = saved;
      }
    });
  });

  describe('other normalisation', () => {
    it('strips trailing slashes from URLs and lower-cases the next_link whitelist', () => {
      const config = parseConfig({
        public_baseurl: 'https://matrix.example.org/threepid//',
        homeserver: { base_url: 'https://hs.example.org/' },
        next_link_domain_whitelist: ['App.Example.org'],
      });
      expect(config.publicBaseurl).toBe('https://matrix.example.org/threepid');
      expect(config.homeserver.baseUrl).toBe('https://hs.example.org');
      expect(config.nextLinkDomainWhitelist).toEqual(['app.example.org']);
    });

    it('refuses a whitelist entry that is not a host name', () => {
      expect(configError(() => parseConfig({ next_link_domain_whitelist: ['https://x.org/'] })).path).toBe(
        'next_link_domain_whitelist.0',
      );
    });
  });

  it('returns a deeply frozen config', () => {
    const config = parseConfig({
      email: { smtp_host: 'mail.example.org' },
      next_link_domain_whitelist: ['example.org'],
      trusted_proxies: ['10.0.0.1'],
      homeserver: { shared_secret: LONG_SECRET },
    });
    const objects: unknown[] = [
      config,
      config.listeners,
      config.listeners.client,
      config.listeners.internal,
      config.database,
      config.email,
      config.email.smtp,
      config.nextLinkDomainWhitelist,
      config.rateLimit,
      config.trustedProxies,
      config.homeserver,
    ];
    for (const object of objects) expect(Object.isFrozen(object)).toBe(true);
    expect(() => {
      (config.listeners.client as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => (config.trustedProxies as string[]).push('x')).toThrow(TypeError);
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('threepid-config-');
  });
  afterEach(() => removeDir(dir));

  function write(name: string, text: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  it('reads and validates a YAML file', () => {
    const file = write(
      'config.yaml',
      [
        'server_name: example.org',
        'public_baseurl: https://matrix.example.org/',
        'email:',
        '  smtp_host: mail.example.org',
        '  smtp_port: 587',
        '  validation_token_lifetime: 15m',
        'next_link_domain_whitelist: [app.example.org]',
        '',
      ].join('\n'),
    );
    const config = loadConfigFile(file, { MATRIX_HS_THREEPID_SMTP_PASS: 'pw' });
    expect(config.serverName).toBe('example.org');
    expect(config.publicBaseurl).toBe('https://matrix.example.org');
    expect(config.email.smtp).toMatchObject({ host: 'mail.example.org', port: 587, pass: 'pw' });
    expect(config.email.validationTokenLifetimeMs).toBe(900_000);
    expect(config.nextLinkDomainWhitelist).toEqual(['app.example.org']);
  });

  it('gives the defaults for an empty file', () => {
    expect(loadConfigFile(write('empty.yaml', ''))).toEqual(parseConfig({}));
  });

  it('gives the defaults for a file of comments only', () => {
    expect(loadConfigFile(write('comments.yaml', '# nothing yet\n'))).toEqual(parseConfig({}));
  });

  it('refuses invalid YAML with a ConfigError', () => {
    const file = write('bad.yaml', 'email: [unclosed\n  smtp_host: :\n');
    const err = configError(() => loadConfigFile(file));
    expect(err.message).toMatch(/not valid YAML/);
    expect(err.message).toContain(file);
  });

  it('names the bad key of a file', () => {
    const err = configError(() => loadConfigFile(write('port.yaml', 'email:\n  smtp_host: m\n  smtp_port: "25"\n')));
    expect(err.path).toBe('email.smtp_port');
  });

  it('refuses a missing file with a ConfigError', () => {
    const err = configError(() => loadConfigFile(path.join(dir, 'missing.yaml')));
    expect(err.message).toMatch(/cannot read/);
  });
});
