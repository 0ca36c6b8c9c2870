/** A language folder's name and `email.default_language`: a BCP 47 tag such as `de`, `pt-BR` or `zh-Hant`. */
export const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

/** Longest `Accept-Language` header read; browsers send well under 100 characters. */
const MAX_HEADER_LENGTH = 1024;
/** Language ranges read from one header. */
const MAX_RANGES = 32;
const RANGE = /^(\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$/;
const QUALITY = /^q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/i;

interface WeightedRange {
  readonly range: string;
  readonly quality: number;
  readonly order: number;
}

/** The language ranges of an `Accept-Language` header, best first; malformed entries are skipped. */
export function parseAcceptLanguage(header: string | undefined): string[] {
  return weightedRanges(header).map((entry) => entry.range);
}

function weightedRanges(header: string | undefined): WeightedRange[] {
  if (!header || header.length > MAX_HEADER_LENGTH) return [];
  const ranges: WeightedRange[] = [];
  for (const [order, entry] of header.split(',').slice(0, MAX_RANGES).entries()) {
    const [range, ...params] = entry.split(';').map((part) => part.trim());
    if (!RANGE.test(range)) continue;
    // A weight that is not a qvalue (`q=abc`, `q=1.5`) makes the entry unreadable, not q=1.
    const weights = params.filter((param) => /^q\s*=/i.test(param));
    if (weights.length > 1 || (weights.length === 1 && !QUALITY.test(weights[0]))) continue;
    const quality = weights.length === 1 ? Number(QUALITY.exec(weights[0])![1]) : 1;
    if (quality > 0) ranges.push({ range: range.toLowerCase(), quality, order });
  }
  return ranges.sort((a, b) => b.quality - a.quality || a.order - b.order);
}

/**
 * The best of `available` for an `Accept-Language` header (RFC 4647 lookup):
 * for each range, best first, the exact tag or a browser tag that names it
 * (`aliases`, lower case: `zh-tw` for `zh-Hant`), then the same for the tag
 * cut back a subtag at a time (`de-AT` finds `de`), then any available tag
 * the range is a prefix of (`pt` finds `pt-BR`). No header, or no match:
 * `fallback`.
 *
 * `*` (RFC 4647 §3.4: lookup skips it) means "nothing more specific: the
 * default" only when it is the best remaining range, weighed above every
 * range after it; tied with a named range (`*, de`), it is ignored and the
 * named one is tried, as it is wherever it is not the best.
 */
export function negotiateLanguage(
  header: string | undefined,
  available: readonly string[],
  fallback: string,
  aliases: ReadonlyMap<string, string> = new Map(),
): string {
  const byLower = new Map(available.map((tag) => [tag.toLowerCase(), tag]));
  const ranges = weightedRanges(header);
  for (const [at, { range, quality }] of ranges.entries()) {
    if (range === '*') {
      if (ranges.slice(at + 1).some((later) => later.quality === quality && later.range !== '*')) continue;
      return fallback;
    }
    for (let tag = range; tag; tag = tag.includes('-') ? tag.slice(0, tag.lastIndexOf('-')) : '') {
      const found = byLower.get(tag) ?? aliases.get(tag);
      if (found) return found;
    }
    const extended = available.find((tag) => tag.toLowerCase().startsWith(`${range}-`));
    if (extended) return extended;
  }
  return fallback;
}

/**
 * The languages a text in `language` falls back through, best first:
 * the tag cut back a subtag at a time (`pt-BR`, `pt`), then the server's
 * default, then English.
 */
export function fallbackChain(language: string, defaultLanguage: string): string[] {
  return [...new Set([...truncations(language), defaultLanguage, 'en'])];
}

/** The tag and its shorter forms: `pt-BR`, `pt`. */
export function truncations(tag: string): string[] {
  const tags: string[] = [];
  for (let at = tag; at; at = at.includes('-') ? at.slice(0, at.lastIndexOf('-')) : '') tags.push(at);
  return tags;
}

/** True when the engine knows `tag` as a language and `tag` is its canonical spelling: `img`, `css`, `old` (and `bak`, Bashkir spelt `ba`) are not. */
export function isKnownLanguage(tag: string): boolean {
  try {
    const named = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' }).of(tag);
    return named !== undefined && Intl.getCanonicalLocales(tag)[0] === tag;
  } catch {
    return false;
  }
}
