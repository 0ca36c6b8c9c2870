// Regression: invisible and bidi control characters (Unicode Cf: U+200B,
// U+FEFF, U+202E…) were accepted in email addresses, so `ali\u200Bce@…`
// displayed as alice's address; and the precomposed and decomposed forms of
// one address (`é` against `e` + U+0301) were two keys, so one mailbox could
// be bound twice.
import path from 'node:path';
import { canonicaliseEmail } from '../../src/threepid/email';
import { ThreepidError } from '../../src/threepid/errors';
import { internalToken, post, removeDir, startModule, tempDir } from '../support/harness';
import { startSmtpSink } from '../support/smtp';

const INVISIBLE = [
  ['zero-width space', '\u200b'],
  ['zero-width non-joiner', '\u200c'],
  ['zero-width joiner', '\u200d'],
  ['word joiner', '\u2060'],
  ['byte-order mark', '\ufeff'],
  ['right-to-left override', '\u202e'],
  ['left-to-right mark', '\u200e'],
  ['right-to-left isolate', '\u2067'],
  ['soft hyphen', '\u00ad'],
  ['Mongolian vowel separator', '\u180e'],
  ['tag letter', '\u{e0061}'],
  ['combining grapheme joiner', '\u034f'],
  ['Hangul filler', '\u3164'],
  ['variation selector', '\ufe0f'],
];

describe('canonicaliseEmail', () => {
  it.each(INVISIBLE)('refuses a %s in the local part or the domain', (_name, char) => {
    for (const address of [`ali${char}ce@example.org`, `alice@exam${char}ple.org`, `${char}alice@example.org`]) {
      let thrown: unknown;
      try {
        canonicaliseEmail(address);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ThreepidError);
      expect((thrown as ThreepidError).errcode).toBe('M_INVALID_PARAM');
    }
  });

  it('gives the precomposed and decomposed forms of one address one canonical form', () => {
    const precomposed = 'Jos\u00e9@example.org';
    const decomposed = 'Jose\u0301@example.org';
    expect(canonicaliseEmail(decomposed)).toBe(canonicaliseEmail(precomposed));
    expect(canonicaliseEmail(decomposed)).toBe('jos\u00e9@example.org');
  });

  it('is idempotent on what it produces', () => {
    for (const address of ['Jose\u0301@example.org', '\u0130stanbul@example.org', 'Stra\u00dfe@example.org']) {
      const once = canonicaliseEmail(address);
      expect(canonicaliseEmail(once)).toBe(once);
      expect(once).toBe(once.normalize('NFC'));
    }
  });
});

it('binds the two forms of one address as one key, and refuses an invisible lookalike over HTTP', async () => {
  const smtp = await startSmtpSink();
  const dir = tempDir();
  const hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
  });
  try {
    const bind = (address: string) =>
      fetch(`${hs.internalUrl}/_threepid/v1/bindings/email/${encodeURIComponent(address)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${internalToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: '@jose:example.org' }),
      });
    expect((await bind('jos\u00e9@example.org')).status).toBe(200);

    const register = `${hs.url}/_matrix/client/v3/register/email/requestToken`;
    const decomposed = await post(register, { client_secret: 'cs', email: 'Jose\u0301@example.org', send_attempt: 1 });
    expect(decomposed.status).toBe(400);
    expect(decomposed.body.errcode).toBe('M_THREEPID_IN_USE');

    const lookalike = await post(register, { client_secret: 'cs', email: 'jos\u200b\u00e9@example.org', send_attempt: 1 });
    expect(lookalike.status).toBe(400);
    expect(lookalike.body.errcode).toBe('M_INVALID_PARAM');

    const lookup = await fetch(`${hs.internalUrl}/_threepid/v1/bindings/email/${encodeURIComponent('jose\u0301@example.org')}`, {
      headers: { authorization: `Bearer ${internalToken()}` },
    });
    expect(lookup.status).toBe(200);
    expect(((await lookup.json()) as { user_id: string }).user_id).toBe('@jose:example.org');
    expect(smtp.messages).toHaveLength(0);
  } finally {
    await hs.close();
    await smtp.close();
    removeDir(dir);
  }
});
