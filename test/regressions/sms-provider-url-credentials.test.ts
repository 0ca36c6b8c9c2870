/**
 * A provider URL with user:password in it was taken, and fetch then refused
 * every send with an error quoting the URL, password included, which the
 * outbox logged and stored as the reason (and retried, to no end). Such a
 * URL is now refused with the config, naming its key, never the password.
 */
import { ConfigError, parseConfig } from '../../src/config';
import { thrown } from '../support/thrown';

const PASSWORD = 'Passw0rd-in-url';
const withCredentials = `https://user:${PASSWORD}@gateway.example.net`;

describe('SMS provider URLs with credentials in them', () => {
  it.each([
    ['sms.http.url', { sender: 'http' as const, http: { url: `${withCredentials}/send` } }],
    ['sms.twilio.base_url', { sender: 'twilio' as const, twilio: { account_sid: 'AC1', auth_token: 't', from: '+15005550006', base_url: withCredentials } }],
    ['sms.sns.endpoint', { sender: 'sns' as const, sns: { region: 'eu-west-1', access_key_id: 'AKID', secret_access_key: 's', endpoint: withCredentials } }],
    ['sms.vonage.base_url', { sender: 'vonage' as const, vonage: { api_key: 'k', api_secret: 's', from: 'ExampleHS', base_url: withCredentials } }],
  ])('%s is refused, without the password in the message', (key, sms) => {
    const err = thrown(ConfigError, () => parseConfig({ sms }));
    expect(err.message).toContain(`${key}: must not carry a user name or password`);
    expect(err.message).not.toContain(PASSWORD);
  });

  it('a user name alone is refused too, and a URL without credentials is taken', () => {
    expect(() => parseConfig({ sms: { sender: 'http' as const, http: { url: 'https://user@gateway.example.net/send' } } })).toThrow(ConfigError);
    expect(parseConfig({ sms: { sender: 'http' as const, http: { url: 'https://gateway.example.net/send' } } }).sms.http?.url).toBe('https://gateway.example.net/send');
  });
});
