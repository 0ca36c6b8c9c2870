import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config';
import { removeDir, tempDir } from '../support/harness';
import { thrown } from '../support/thrown';

const configError = (fn: () => unknown): ConfigError => thrown(ConfigError, fn);
const sns = { region: 'eu-west-1', access_key_id: 'AKIDEXAMPLE' };
const vonage = { api_key: 'key', from: 'ExampleHS' };

describe('sms.sns and sms.vonage settings', () => {
  it('read Amazon SNS settings, with the regional endpoint by default', () => {
    const config = parseConfig({ sms: { sender: 'sns', sns: { ...sns, secret_access_key: 'sk', sender_id: 'ExampleHS' } } });
    expect(config.sms.sns).toEqual({
      region: 'eu-west-1',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'sk',
      sessionToken: undefined,
      senderId: 'ExampleHS',
      endpoint: 'https://sns.eu-west-1.amazonaws.com',
    });
    expect(parseConfig({ sms: { sns: { ...sns, secret_access_key: 'sk', endpoint: 'http://127.0.0.1:4566/' } } }).sms.sns?.endpoint).toBe('http://127.0.0.1:4566');
  });

  it('read Vonage settings, with rest.nexmo.com by default', () => {
    expect(parseConfig({ sms: { sender: 'vonage', vonage: { ...vonage, api_secret: 's' } } }).sms.vonage).toEqual({
      apiKey: 'key',
      apiSecret: 's',
      from: 'ExampleHS',
      baseUrl: 'https://rest.nexmo.com',
    });
  });

  it('take each secret from the environment, or from the file NAME_FILE names', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'secret');
      writeFileSync(file, 'from-file\n');
      expect(parseConfig({ sms: { sns } }, { MATRIX_HS_THREEPID_SNS_SECRET_ACCESS_KEY: 'from-env' }).sms.sns?.secretAccessKey).toBe('from-env');
      expect(parseConfig({ sms: { sns } }, { MATRIX_HS_THREEPID_SNS_SECRET_ACCESS_KEY_FILE: file }).sms.sns?.secretAccessKey).toBe('from-file');
      expect(parseConfig({ sms: { vonage } }, { MATRIX_HS_THREEPID_VONAGE_API_SECRET: 'from-env' }).sms.vonage?.apiSecret).toBe('from-env');
      expect(parseConfig({ sms: { vonage } }, { MATRIX_HS_THREEPID_VONAGE_API_SECRET_FILE: file }).sms.vonage?.apiSecret).toBe('from-file');
    } finally {
      removeDir(dir);
    }
  });

  it.each([
    ['a missing SNS secret, naming its variable', { sender: 'sns' as const, sns }, 'sms.sns.secret_access_key', /MATRIX_HS_THREEPID_SNS_SECRET_ACCESS_KEY/],
    ['a missing Vonage secret, naming its variable', { sender: 'vonage' as const, vonage }, 'sms.vonage.api_secret', /MATRIX_HS_THREEPID_VONAGE_API_SECRET/],
    ['sender sns without sms.sns', { sender: 'sns' as const }, 'sms.sns', /required when sms.sender is "sns"/],
    ['sender vonage without sms.vonage', { sender: 'vonage' as const }, 'sms.vonage', /required when sms.sender is "vonage"/],
    ['a region that is no region', { sns: { ...sns, secret_access_key: 'sk', region: 'Ireland' } }, 'sms.sns.region', /AWS region/],
    ['a sender ID of digits alone', { sns: { ...sns, secret_access_key: 'sk', sender_id: '12345' } }, 'sms.sns.sender_id', /letters and digits/],
    ['a sender ID over 11 characters', { sns: { ...sns, secret_access_key: 'sk', sender_id: 'ExampleHomeserver' } }, 'sms.sns.sender_id', /letters and digits/],
  ])('report %s', (_what, sms, key, message) => {
    const err = configError(() => parseConfig({ sms }));
    expect(err.issues).toContainEqual({ path: key, message: expect.stringMatching(message) });
  });
});
