/**
 * The local part was case-folded by chaining `toLowerCase`/`toUpperCase`,
 * which is not Unicode case folding: `ıvan@example.com` (dotless i) was
 * stored and mailed as `ivan@example.com`, which Python's `str.casefold()`
 * (Synapse's `canonicalise_email`) keeps apart, and Cherokee `Ꭰ` became `ꭰ`
 * where Python keeps `Ꭰ`. The expected forms below are Python's
 * `"…".casefold()` results, written down.
 */
import path from 'node:path';
import { canonicaliseEmail } from '../../src/threepid/email';
import { caseFold } from '../../src/threepid/case-fold';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';

/** [local part, Python's casefold of it, what it is]. */
const PYTHON_CASEFOLD: Array<[string, string, string]> = [
  ['Alice', 'alice', 'ASCII'],
  ['ÉLODIE', 'élodie', 'Latin-1 capitals'],
  ['Straße', 'strasse', 'sharp s'],
  ['\u1E9E', 'ss', 'capital sharp s'],
  ['ı', 'ı', 'dotless i stays'],
  ['ıvan', 'ıvan', 'dotless i in a name'],
  ['İ', 'i\u0307', 'capital I with dot above'],
  ['ς', 'σ', 'final sigma'],
  ['ΣΟΦΊΑ', 'σοφία', 'Greek capitals'],
  ['ſ', 's', 'long s'],
  ['ﬃ', 'ffi', 'ffi ligature'],
  ['\u13A0', '\u13A0', 'Cherokee capital stays'],
  ['\uAB70', '\u13A0', 'Cherokee small letter folds to the capital'],
  ['ǅ', 'ǆ', 'title-case digraph'],
  ['\u212A', 'k', 'Kelvin sign'],
  ['\u212B', 'å', 'Angstrom sign'],
  ['ǰ', 'j\u030C', 'j with caron (decomposes)'],
  ['\u1FBE', 'ι', 'Greek prosgegrammeni'],
  ['ᾈ', 'ἀι', 'Greek capital with prosgegrammeni'],
  ['\u1FBB', '\u1F71', 'Greek capital alpha with oxia'],
  ['Ω', 'ω', 'Greek omega'],
  ['\u2126', 'ω', 'Ohm sign'],
  ['Ꞵ', 'ꞵ', 'Latin beta'],
  ['\u{10400}', '\u{10428}', 'Deseret, outside the BMP'],
  ['\u{1E900}', '\u{1E922}', 'Adlam, outside the BMP'],
  ['Иван', 'иван', 'Cyrillic'],
  ['日本', '日本', 'no case'],
];

describe('the local part is case-folded as Python folds it', () => {
  it.each(PYTHON_CASEFOLD)('%s folds to %s (%s)', (local, folded) => {
    expect(caseFold(local)).toBe(folded);
  });

  // validator.js refuses local parts outside the BMP, so those are folded above only.
  const inBmp = PYTHON_CASEFOLD.filter(([local]) => [...local].every((char) => char.codePointAt(0)! < 0x10000));

  it.each(inBmp)('%s@example.com is stored as Python folds it (%s)', (local, folded) => {
    expect(canonicaliseEmail(`${local}@example.com`)).toBe(`${folded}@example.com`.normalize('NFC'));
  });

  it('folding twice changes nothing', () => {
    for (const [local] of PYTHON_CASEFOLD) expect(caseFold(caseFold(local))).toBe(caseFold(local));
  });

  describe('end to end', () => {
    let smtp: SmtpSink;
    let dir: string;
    let hs: Running;

    beforeAll(async () => {
      smtp = await startSmtpSink();
      dir = tempDir();
      hs = await startModule({
        database: { path: path.join(dir, 'threepid.sqlite') },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      });
    });

    afterAll(async () => {
      await hs.close();
      await smtp.close();
      removeDir(dir);
    });

    it('ıvan@example.com is not in use when ivan@example.com is bound, and its mail goes to ıvan', async () => {
      await hs.module.bindings.put('email', 'ivan@example.com', '@ivan:example.org');
      const requested = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, {
        client_secret: 'dotless',
        email: 'ıvan@example.com',
        send_attempt: 1,
      });
      expect(requested.status).toBe(200);
      const mail = await smtp.nthTo('ıvan@example.com', 1);
      expect(linkIn(mail).searchParams.get('sid')).toBe(requested.body.sid);
    });

    it('the README example still holds: Strauß@Example.com is strauss@example.com', async () => {
      const requested = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, {
        client_secret: 'readme',
        email: 'Strauß@Example.com',
        send_attempt: 1,
      });
      expect(requested.status).toBe(200);
      const mail = await smtp.nthTo('strauss@example.com', 1);
      expect(linkIn(mail).searchParams.get('sid')).toBe(requested.body.sid);
    });
  });
});
