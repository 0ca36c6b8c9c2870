import { generateKeyPairSync } from 'node:crypto';
import { parseConfig } from '../../src/config';
import { SendTestOutput, secretsOf } from '../../src/send-test/output';

// Whatever a server or gateway echoes back, the send test's output holds no configured secret.

const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const config = parseConfig({
  homeserver: { shared_secret: 'shared-secret-0123456789-0123456789-abcdef' },
  email: { smtp_host: 'mail.example.org', smtp_user: 'mailer', smtp_pass: 'smtp-pass-123', dkim: { domain: 'example.org', selector: 's1', private_key: pem } },
  sms: {
    sender: 'http',
    http: { url: 'https://sms.example.org/send', headers: { authorization: 'Bearer gateway-key-456' } },
    twilio: { account_sid: 'AC1', auth_token: 'twilio-token-789', from: '+15005550006' },
    vonage: { api_key: 'k1', api_secret: 'vonage-secret-246', from: 'Example' },
    sns: { region: 'eu-west-1', access_key_id: 'AKIAEXAMPLE', secret_access_key: 'sns-secret/135+', session_token: 'sns-session-975' },
  },
});

it('hides every configured secret, wherever it shows up in a line', () => {
  const printed: string[] = [];
  const out = new SendTestOutput(secretsOf(config), (text) => printed.push(text), (text) => printed.push(text));
  const keyLine = pem.split('\n')[1];
  const secrets = [
    'shared-secret-0123456789-0123456789-abcdef',
    'smtp-pass-123',
    'Bearer gateway-key-456',
    'twilio-token-789',
    'vonage-secret-246',
    'sns-secret/135+',
    'sns-session-975',
    keyLine,
  ];
  for (const secret of secrets) {
    out.line(`S: 535 wrong password ${secret} given`);
    out.problem(`answer body: {"echo":"${secret}"}`);
  }
  expect(printed).toHaveLength(secrets.length * 2);
  for (const secret of secrets) expect(printed.join('')).not.toContain(secret);
  expect(printed[0]).toBe('S: 535 wrong password <hidden> given\n');
  // What is no secret stays readable.
  out.line('AUTH as mailer to mail.example.org, AKIAEXAMPLE');
  expect(printed.at(-1)).toBe('AUTH as mailer to mail.example.org, AKIAEXAMPLE\n');
});

it('hides a secret as an AUTH exchange or a provider request carries it: in base64 at any offset, or percent-encoded', () => {
  const printed: string[] = [];
  const out = new SendTestOutput(secretsOf(config), (text) => printed.push(text), (text) => printed.push(text));
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  const forms = [
    base64('smtp-pass-123'),
    base64('\0mailer\0smtp-pass-123'),
    ...['z', 'zz', 'zzz'].map((authzid) => base64(`${authzid}\0mailer\0smtp-pass-123`)),
    base64('AC1:twilio-token-789'),
    encodeURIComponent('sns-secret/135+'),
    new URLSearchParams({ api_secret: 'sns-secret/135+' }).toString(),
  ];
  for (const form of forms) out.line(`S: 535 5.7.8 you sent ${form}`);
  const shown = printed.join('');
  for (const form of forms) expect(shown).not.toContain(form);
  // Not a character of the password's base64 is left: at each of the three places it can start in a base64 group.
  for (const before of [0, 1, 2]) {
    const text = base64(`${'x'.repeat(before)}smtp-pass-123`);
    expect(shown).not.toContain(text.slice(Math.ceil((8 * before) / 6), Math.floor((8 * (before + 13)) / 6)));
  }
  expect(printed.every((line) => line.includes('<hidden>'))).toBe(true);
});
