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
      expect(config.listeners).toMatchObject({
        client: { host: '127.0.0.1', port: 8090 },
        internal: { host: '127.0.0.1', port: 8091 },
      });
    });

    it('caps the public listener’s sockets and gives them a reverse proxy’s timeouts; the internal one has no caps', () => {
      const timeouts = { headerTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 };
      expect(config.listeners.client).toMatchObject({ maxConnections: 1000, maxConnectionsPerIp: 100, ...timeouts });
      expect(config.listeners.internal).toMatchObject({ maxConnections: 0, maxConnectionsPerIp: 0, ...timeouts });
    });

    it('refuses a header_timeout longer than request_timeout', () => {
      expect(() => parseConfig({ listeners: { client: { header_timeout: '1m', request_timeout: '30s' } } })).toThrow(
        'config: listeners.client.header_timeout: must be above 0 and at most request_timeout',
      );
    });

    it('refuses an outbox lease no longer than the send deadline (a send must end before its lease)', () => {
      expect(() => parseConfig({ outbox: { lease: '30s', send_timeout: '30s' } })).toThrow(
        'config: outbox.lease: must be longer than outbox.send_timeout',
      );
      expect(parseConfig({ outbox: { lease: '3s', send_timeout: '2s' } }).outbox).toMatchObject({ leaseMs: 3_000, sendTimeoutMs: 2_000, concurrency: 8 });
    });

    it('gives tokens one hour, in milliseconds', () => {
      expect(config.email.validationTokenLifetimeMs).toBe(3_600_000);
    });

    it('builds notif_from from app_name and server_name', () => {
      expect(config.serverName).toBe('localhost');
      expect(config.email.appName).toBe('Matrix');
      expect(config.email.notifFrom).toBe('"Matrix" <noreply@localhost>');
      expect(parseConfig({ server_name: 'example.org', email: { app_name: 'Acme' } }).email.notifFrom).toBe(
        '"Acme" <noreply@example.org>',
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
      const err = configError(() => parseConfig({ smtp_host: 'mail.example.org' } as never));
      expect(err.message).toContain('smtp_host');
      expect(err.message).toMatch(/unknown key/);
    });

    it('names an unknown nested key and where it is', () => {
      // @ts-expect-error a misspelled key is a type error too
      const err = configError(() => parseConfig({ email: { smtp_hostname: 'mail.example.org' } }));
      expect(err.path).toBe('email');
      expect(err.message).toContain('smtp_hostname');
      expect(err.message).toMatch(/unknown key/);
    });

    it('names an unknown key two levels down', () => {
      // @ts-expect-error a misspelled key is a type error too
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
      expect(() => parseConfig('public_baseurl: x' as never)).toThrow(ConfigError);
      expect(() => parseConfig([] as never)).toThrow(ConfigError);
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
        enableTls: true,
        tlsName: undefined,
      });
      expect(parseConfig({ email: { smtp_host: 'mail.example.org', force_tls: true } }).email.smtp?.port).toBe(465);
    });

    it('needs smtp_host when other smtp keys are set', () => {
      expect(configError(() => parseConfig({ email: { smtp_port: 587 } })).path).toBe('email.smtp_host');
    });

    it('needs a password when smtp_user is set, from the config, the environment or a file', () => {
      // nodemailer would refuse every login ("Missing credentials for PLAIN")
      // and each message be retried until given up on.
      expect(configError(() => parseConfig({ email: { smtp_host: 'mail', smtp_user: 'u' } })).path).toBe('email.smtp_pass');
      expect(parseConfig({ email: { smtp_host: 'mail', smtp_user: 'u', smtp_pass: 'p' } }).email.smtp?.pass).toBe('p');
      expect(parseConfig({ email: { smtp_host: 'mail', smtp_user: 'u' } }, { MATRIX_HS_THREEPID_SMTP_PASS: 'p' }).email.smtp?.pass).toBe('p');
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

  it('never echoes a secret set where its file name belongs (MATRIX_HS_THREEPID_SMTP_PASS_FILE)', () => {
    const err = configError(() =>
      parseConfig({ email: { smtp_host: 'mail.example.org', smtp_user: 'hs' } }, { MATRIX_HS_THREEPID_SMTP_PASS_FILE: 'correct horse battery staple' }),
    );
    expect(err.message).toMatch(/^  email\.smtp_pass: cannot read the file MATRIX_HS_THREEPID_SMTP_PASS_FILE names: ENOENT$/m);
    expect(err.message).not.toContain('horse');
  });

  it('refuses a missing file with a ConfigError', () => {
    const err = configError(() => loadConfigFile(path.join(dir, 'missing.yaml')));
    expect(err.message).toMatch(/cannot read/);
  });
});

describe('branding, languages and public_baseurl with a path', () => {
  it('keeps the path of public_baseurl, without its trailing slash', () => {
    expect(parseConfig({ public_baseurl: 'https://example.org/matrix/' })).toMatchObject({
      publicBaseurl: 'https://example.org/matrix',
      publicBasePath: '/matrix',
    });
    expect(parseConfig({ public_baseurl: 'https://example.org/' }).publicBasePath).toBe('');
  });

  it('takes a logo at an https URL or a path, an accent colour and a support URL', () => {
    const config = parseConfig({
      branding: { logo_url: 'https://cdn.example.org/logo.svg', accent_color: '#0a7f5c', support_url: 'mailto:help@example.org' },
    });
    expect(config.branding).toEqual({
      logoUrl: 'https://cdn.example.org/logo.svg',
      accentColor: '#0a7f5c',
      supportUrl: 'mailto:help@example.org',
    });
    expect(parseConfig({ branding: { logo_url: '/static/logo.png' } }).branding.logoUrl).toBe('/static/logo.png');
    expect(parseConfig({}).branding).toEqual({});
  });

  it.each([
    ['http://cdn.example.org/logo.png'],
    ['//cdn.example.org/logo.png'],
    ['javascript:alert(1)'],
    ['data:image/svg+xml,<svg/>'],
    ['https://user:pw@cdn.example.org/logo.png'],
    ['logo.png'],
    ['/logo.png" onerror="x'],
  ])('refuses the logo %s', (logo) => {
    expect(configError(() => parseConfig({ branding: { logo_url: logo } })).path).toBe('branding.logo_url');
  });

  it.each([['red'], ['#12345'], ['#1234567'], ['rgb(0,0,0)'], ['#fff; background: url(x)']])('refuses the colour %s', (color) => {
    expect(configError(() => parseConfig({ branding: { accent_color: color } })).path).toBe('branding.accent_color');
  });

  it('refuses a support URL that is not https, http or mailto', () => {
    expect(configError(() => parseConfig({ branding: { support_url: 'javascript:alert(1)' } })).path).toBe('branding.support_url');
  });

  it('takes email.default_language as a language tag, English by default', () => {
    expect(parseConfig({}).email.defaultLanguage).toBe('en');
    expect(parseConfig({ email: { default_language: 'de' } }).email.defaultLanguage).toBe('de');
    expect(configError(() => parseConfig({ email: { default_language: '../etc' } })).path).toBe('email.default_language');
  });
});

describe('every problem at once', () => {
  it('reports each bad key of the schema, not only the first', () => {
    const err = configError(() =>
      parseConfig({
        email: { smtp_host: 'mail', smtp_port: 'twenty-five', validation_token_lifetime: 'forever' },
        listeners: { client: { port: 70000 } },
        bogus: 1,
      } as never),
    );
    expect(err.issues.map((issue) => issue.path).sort()).toEqual(
      ['', 'email.smtp_port', 'email.validation_token_lifetime', 'listeners.client.port'].sort(),
    );
    for (const key of ['email.smtp_port', 'email.validation_token_lifetime', 'listeners.client.port', 'bogus']) {
      expect(err.message).toContain(key);
    }
  });

  it('reports each problem found across keys, too', () => {
    const err = configError(() =>
      parseConfig({
        homeserver: { shared_secret: 'short' },
        sms: { sender: 'http' },
        identity_server: { trusted: ['https://x'], ip_range_whitelist: ['nope'] },
      }),
    );
    expect(err.issues.map((issue) => issue.path)).toEqual([
      'sms.http',
      'homeserver.shared_secret',
      'identity_server.trusted.0',
      'identity_server.ip_range_whitelist.0',
    ]);
  });
});

describe('trusted_proxies', () => {
  it('takes addresses, CIDR ranges and proxy-addr names', () => {
    const proxies = ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'loopback', 'uniquelocal'];
    expect(parseConfig({ trusted_proxies: proxies }).trustedProxies).toEqual(proxies);
  });

  it.each(['10.0.0.0/33', 'proxy.example.org', '999.1.1.1'])('refuses %s as a config error naming the entry', (entry) => {
    const err = configError(() => parseConfig({ trusted_proxies: ['127.0.0.1', entry] }));
    expect(err.path).toBe('trusted_proxies.1');
    expect(err.message).not.toMatch(/^\s+at /m);
  });
});

describe("Synapse's email block", () => {
  // As an operator has it in homeserver.yaml (Synapse's sample config).
  const synapseEmail = {
    smtp_host: 'mail.example.org',
    smtp_port: 587,
    smtp_user: 'exampleusername',
    smtp_pass: 'examplepassword',
    require_transport_security: false,
    enable_tls: false,
    notif_from: "Your Friendly %(app)s homeserver <noreply@example.org>",
    app_name: 'my_branded_matrix_server',
    enable_notifs: true,
    notif_for_new_users: false,
    client_base_url: 'http://localhost/riot',
    validation_token_lifetime: '15m',
    invite_client_location: 'https://app.element.io',
    subjects: {
      message_from_person_in_room: '[%(app)s] You have a message on %(app)s from %(person)s in the %(room)s room...',
      email_validation: '[%(server_name)s] Validate your email',
      password_reset: '[%(app)s] Password reset for %(server_name)s',
    },
    template_dir: '/etc/synapse/templates',
  };

  it('is accepted as it is, with enable_tls, template_dir and subjects honoured', () => {
    const config = parseConfig({ server_name: 'example.org', email: synapseEmail });
    expect(config.email.smtp).toMatchObject({ host: 'mail.example.org', port: 587, enableTls: false, pass: 'examplepassword' });
    expect(config.email.validationTokenLifetimeMs).toBe(15 * 60_000);
    expect(config.templatesDir).toBe('/etc/synapse/templates');
    expect(config.email.subjects).toEqual({
      registration: '[example.org] Validate your email',
      addThreepid: '[example.org] Validate your email',
      passwordReset: '[my_branded_matrix_server] Password reset for example.org',
    });
  });

  it("replaces %(app)s in notif_from with app_name, as Synapse does", () => {
    expect(parseConfig({ email: synapseEmail }).email.notifFrom).toBe(
      'Your Friendly my_branded_matrix_server homeserver <noreply@example.org>',
    );
  });

  it('lists the notification-only keys as ignored, for the start-up log', () => {
    expect(parseConfig({ email: synapseEmail }).ignoredKeys).toEqual([
      'email.enable_notifs',
      'email.notif_for_new_users',
      'email.client_base_url',
      'email.invite_client_location',
      'email.subjects.message_from_person_in_room',
    ]);
    expect(parseConfig({}).ignoredKeys).toEqual([]);
  });

  it('still refuses a key Synapse does not have either', () => {
    // @ts-expect-error a misspelled key is a type error too
    expect(configError(() => parseConfig({ email: { ...synapseEmail, enable_tsl: true } })).message).toContain('enable_tsl');
    // @ts-expect-error a misspelled key is a type error too
    expect(configError(() => parseConfig({ email: { subjects: { email_validaton: 'x' } } })).path).toBe('email.subjects');
  });

  it('refuses enable_tls: false together with require_transport_security or force_tls', () => {
    const err = configError(() => parseConfig({ email: { smtp_host: 'm', enable_tls: false, require_transport_security: true } }));
    expect(err.path).toBe('email.enable_tls');
  });

  it('takes templates.custom_template_directory, and refuses two names for different folders', () => {
    expect(parseConfig({ templates: { custom_template_directory: '/srv/t' } }).templatesDir).toBe('/srv/t');
    expect(parseConfig({ templates_dir: '/srv/t', templates: { custom_template_directory: '/srv/t' } }).templatesDir).toBe('/srv/t');
    const err = configError(() => parseConfig({ templates_dir: '/a', email: { template_dir: '/b' } }));
    expect(err.path).toBe('email.template_dir');
  });
});

describe('secrets from files named by the environment', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('threepid-secrets-');
  });
  afterEach(() => removeDir(dir));

  const secretFile = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads every secret from NAME_FILE, dropping one trailing newline', () => {
    const config = parseConfig(
      {
        database: { engine: 'postgres' },
        email: { smtp_host: 'mail', smtp_user: 'u' },
        sms: { sender: 'twilio', twilio: { account_sid: 'AC1', from: '+15005550006' } },
      },
      {
        MATRIX_HS_THREEPID_SMTP_PASS_FILE: secretFile('smtp', 'smtp pass\n'),
        MATRIX_HS_THREEPID_SHARED_SECRET_FILE: secretFile('shared', `${LONG_SECRET}\n`),
        MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN_FILE: secretFile('twilio', 'twilio-token'),
        MATRIX_HS_THREEPID_DATABASE_URL_FILE: secretFile('db', 'postgres://u:p@db/threepid\n'),
      },
    );
    expect(config.email.smtp?.pass).toBe('smtp pass');
    expect(config.homeserver.sharedSecret).toBe(LONG_SECRET);
    expect(config.sms.twilio?.authToken).toBe('twilio-token');
    expect(config.database).toMatchObject({ engine: 'postgres', url: 'postgres://u:p@db/threepid' });
  });

  it('lets sms.twilio.auth_token come from the environment alone', () => {
    const twilio = { sender: 'twilio' as const, twilio: { account_sid: 'AC1', from: '+15005550006' } };
    expect(parseConfig({ sms: twilio }, { MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN: 'tok' }).sms.twilio?.authToken).toBe('tok');
    expect(configError(() => parseConfig({ sms: twilio })).path).toBe('sms.twilio.auth_token');
  });

  it('names the key and the variable when the file cannot be read, without the secret', () => {
    const err = configError(() => parseConfig({}, { MATRIX_HS_THREEPID_SHARED_SECRET_FILE: path.join(dir, 'missing') }));
    expect(err.path).toBe('homeserver.shared_secret');
    expect(err.message).toContain('MATRIX_HS_THREEPID_SHARED_SECRET_FILE');
    expect(err.message).toContain('ENOENT');
  });

  it('refuses a secret set both directly and by file', () => {
    const err = configError(() =>
      parseConfig({}, { MATRIX_HS_THREEPID_SHARED_SECRET: LONG_SECRET, MATRIX_HS_THREEPID_SHARED_SECRET_FILE: secretFile('s', LONG_SECRET) }),
    );
    expect(err.path).toBe('homeserver.shared_secret');
  });
});
