/**
 * Unicode full case folding (CaseFolding.txt, statuses C and F), as Python's
 * `str.casefold()` does it: Synapse's `canonicalise_email` folds the local
 * part with it, so an address must fold here as it folds there, or one
 * mailbox is two addresses (or two mailboxes one).
 *
 * JavaScript has no `casefold()`, and chaining `toLowerCase`/`toUpperCase`
 * is not one: the dotless `ı` became `i` (Python keeps `ı`), and Cherokee
 * small letters stayed small where folding gives the capitals. The mapping
 * is read off the Unicode data the engine carries, one code point at a time:
 * - a code point that is its own canonical decomposition folds exactly when
 *   it has `Changes_When_Casefolded` (defined on the decomposition, which is
 *   why `ǰ`, a `j` and a caron, and `ι` (U+1FBE), a singleton, take the
 *   slow way);
 * - a full folding longer than one code point (`ß` → `ss`, `ǰ` → `j` and a
 *   caron, `İ` → `i̇`) is what lower-, upper- and lower-casing again gives;
 * - otherwise the folding is simple: a `u`+`i` regular expression matches two
 *   code points exactly when their simple case foldings are equal
 *   (ECMAScript's Canonicalize), and the one of the code point's case
 *   mappings that it matches and that folding leaves alone is its folding.
 *   The code point itself is tried last: U+1FBE lacks the property, yet
 *   folds to `ι`.
 */

const FOLDS = /\p{Changes_When_Casefolded}/u;

/**
 * The code points that fold or decompose, once worked out: a bounded set
 * (about 14,000, most of them Hangul syllables), whatever addresses come in.
 */
const slowlyFolded = new Map<string, string>();

function codePointCount(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

function escapeForRegExp(char: string): string {
  return char.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** The simple folding of `char`: the one of its case mappings, in its case class, that folding leaves alone. */
function simpleFolding(char: string): string {
  const upper = char.toUpperCase();
  const lower = char.toLowerCase();
  const candidates = [upper.toLowerCase(), lower, upper, lower.toUpperCase(), char];
  const found = candidates.find(
    (candidate) =>
      codePointCount(candidate) === 1 && !FOLDS.test(candidate) && new RegExp(`^${escapeForRegExp(candidate)}$`, 'iu').test(char),
  );
  return found ?? char;
}

function foldCodePoint(char: string): string {
  if (char < '\u0080') return char.toLowerCase();
  if (!FOLDS.test(char) && char.normalize('NFD') === char) return char;
  const known = slowlyFolded.get(char);
  if (known !== undefined) return known;
  const full = char.toLowerCase().toUpperCase().toLowerCase();
  const result = codePointCount(full) > 1 ? full : simpleFolding(char);
  slowlyFolded.set(char, result);
  return result;
}

/** `value` case-folded, code point by code point (folding, unlike lower-casing, has no context). */
export function caseFold(value: string): string {
  let result = '';
  for (const char of value) result += foldCodePoint(char);
  return result;
}
