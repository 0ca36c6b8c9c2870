import { ThreepidError } from '../../../src/threepid/errors';
import { cryptoRandom } from '../../../src/sources';
import { parseThreepidAuth, StatelessUiaSessions } from '../../../src/threepid/uia';
import { FakeClock } from '../../support/harness';
import { thrown } from '../../support/thrown';

const creds = { sid: 'abc', client_secret: 'secret' };

describe('parseThreepidAuth', () => {
  it('reads threepid_creds (current spec)', () => {
    expect(parseThreepidAuth({ type: 'm.login.email.identity', threepid_creds: creds, session: 's' })).toEqual({
      type: 'm.login.email.identity',
      medium: 'email',
      sid: 'abc',
      clientSecret: 'secret',
      creds: { idServer: undefined, idAccessToken: undefined },
    });
  });

  it('reads the legacy threepidCreds, as an object or a one-element array', () => {
    expect(parseThreepidAuth({ type: 'm.login.msisdn', threepidCreds: creds }).medium).toBe('msisdn');
    expect(parseThreepidAuth({ type: 'm.login.msisdn', threepidCreds: [creds] }).sid).toBe('abc');
  });

  it('prefers threepid_creds when Element sends both spellings', () => {
    const auth = { type: 'm.login.email.identity', threepid_creds: creds, threepidCreds: { sid: 'other', client_secret: 'x' } };
    expect(parseThreepidAuth(auth).sid).toBe('abc');
  });

  it('keeps id_server and id_access_token for sessions an identity server runs', () => {
    const auth = { type: 'm.login.email.identity', threepid_creds: { ...creds, id_server: 'id.example.org', id_access_token: 't' } };
    expect(parseThreepidAuth(auth).creds).toEqual({ idServer: 'id.example.org', idAccessToken: 't' });
  });

  it.each<[string, unknown, string]>([
    ['another stage type', { type: 'm.login.password', threepid_creds: creds }, 'M_INVALID_PARAM'],
    ['no credentials', { type: 'm.login.email.identity' }, 'M_MISSING_PARAM'],
    ['an array of two', { type: 'm.login.email.identity', threepidCreds: [creds, creds] }, 'M_INVALID_PARAM'],
    ['credentials without sid', { type: 'm.login.email.identity', threepid_creds: { client_secret: 'x' } }, 'M_MISSING_PARAM'],
    ['a bad client_secret', { type: 'm.login.email.identity', threepid_creds: { sid: 'a', client_secret: 'no spaces' } }, 'M_INVALID_PARAM'],
    ['not an object', 'm.login.email.identity', 'M_BAD_JSON'],
  ])('refuses %s', (_name, auth, errcode) => {
    expect(thrown(ThreepidError, () => parseThreepidAuth(auth)).errcode).toBe(errcode);
  });
});

describe('StatelessUiaSessions', () => {
  it('accepts its own session for the same user within 15 minutes, and nothing else', () => {
    const clock = new FakeClock();
    const sessions = new StatelessUiaSessions('k'.repeat(32), clock, cryptoRandom);
    const session = sessions.start('@a:x');
    expect(sessions.isValid('@a:x', session)).toBe(true);
    expect(sessions.isValid('@b:x', session)).toBe(false);
    expect(new StatelessUiaSessions('j'.repeat(32), clock, cryptoRandom).isValid('@a:x', session)).toBe(false);
    expect(sessions.isValid('@a:x', session.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))).toBe(false);
    clock.advance(15 * 60_000);
    expect(sessions.isValid('@a:x', session)).toBe(false);
  });
});
