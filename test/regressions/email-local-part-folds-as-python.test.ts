/**
 * The local part was case-folded by chaining `toLowerCase`/`toUpperCase`,
 * which is not Unicode case folding: `ıvan@example.com` (dotless i) was
 * stored and mailed as `ivan@example.com`, which Python's `str.casefold()`
 * (Synapse's `canonicalise_email`) keeps apart, and Cherokee `Ꭰ` became `ꭰ`
 * where Python keeps `Ꭰ`. The expected forms below are Python's
 * `"…".casefold()` results, written down.
 */
import { canonicaliseEmail } from '../../src/threepid/email';
import { caseFold } from '../../src/threepid/case-fold';
import { emailModuleFor, expectSessionMailedTo } from '../support/email-module';

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
    const email = emailModuleFor('all');

    it('ıvan@example.com is not in use when ivan@example.com is bound, and its mail goes to ıvan', async () => {
      await email.hs.module.bindings.put('email', 'ivan@example.com', '@ivan:example.org');
      await expectSessionMailedTo(email, 'ıvan@example.com', 'dotless', 'ıvan@example.com');
    });

    it('the README example still holds: Strauß@Example.com is strauss@example.com', async () => {
      await expectSessionMailedTo(email, 'Strauß@Example.com', 'readme', 'strauss@example.com');
    });
  });
});
