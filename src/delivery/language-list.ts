import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-files';

/** Where the shipped catalogs sit, one `<tag>.json` per language, beside the list of languages. */
export const SHIPPED_MESSAGES_DIR = path.join(packageRoot(), 'templates', 'messages');

/** The list's file: each language's native name, writing direction and the browser tags that mean it. */
export const LANGUAGE_LIST_FILE = path.join(SHIPPED_MESSAGES_DIR, 'languages.json');

export type Direction = 'ltr' | 'rtl';

/** What the module knows of a language beyond its strings. */
export interface LanguageInfo {
  /** Its own name for itself, as the language menu shows it. */
  readonly name: string;
  readonly dir: Direction;
  /** Tags a browser may send that this language answers (`zh-TW` for `zh-Hant`). */
  readonly browserTags: readonly string[];
}

interface ListedLanguage {
  name: string;
  dir: Direction;
  browser_tags: string[];
}

let listed: ReadonlyMap<string, LanguageInfo> | undefined;

/** The shipped list of languages, read once. */
export function languageList(): ReadonlyMap<string, LanguageInfo> {
  if (!listed) {
    const raw = JSON.parse(readFileSync(LANGUAGE_LIST_FILE, 'utf8')) as Record<string, ListedLanguage>;
    listed = new Map(
      Object.entries(raw).map(([tag, entry]) => [tag, { name: entry.name, dir: entry.dir, browserTags: entry.browser_tags }]),
    );
  }
  return listed;
}

type TextInfo = { direction?: string };

/** The writing direction the engine's locale data gives a tag the list lacks (an operator's own language). */
function engineDirection(tag: string): Direction {
  try {
    // Newer engines have the method, older ones the property alone.
    const locale = new Intl.Locale(tag) as Intl.Locale & { getTextInfo?: () => TextInfo; textInfo?: TextInfo };
    const info = locale.getTextInfo?.() ?? locale.textInfo;
    return info?.direction === 'rtl' ? 'rtl' : 'ltr';
  } catch {
    return 'ltr';
  }
}

function engineName(tag: string): string {
  try {
    return new Intl.DisplayNames([tag], { type: 'language' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/** Languages the list lacks, as the engine's locale data describes them: asked once each, since every render needs the direction. */
const unlisted = new Map<string, LanguageInfo>();

/** A language's name, direction and browser tags: from the list, else from the engine's locale data. */
export function languageInfo(tag: string): LanguageInfo {
  const known = languageList().get(tag) ?? unlisted.get(tag);
  if (known) return known;
  const info = { name: engineName(tag), dir: engineDirection(tag), browserTags: [] };
  unlisted.set(tag, info);
  return info;
}

/** Browser tags (lower case) and the language each stands for, among `available`. */
export function browserTagAliases(available: readonly string[]): ReadonlyMap<string, string> {
  const aliases = new Map<string, string>();
  for (const tag of available) for (const alias of languageInfo(tag).browserTags) aliases.set(alias.toLowerCase(), tag);
  return aliases;
}
