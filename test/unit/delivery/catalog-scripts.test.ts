/**
 * Each catalog is written in its language's script: letters of another
 * script (a Hebrew letter in Persian, Cyrillic in a Latin-script language)
 * are slips of the keyboard. The script is the one CLDR gives the tag
 * (Intl.Locale's maximize), so a 29th language needs no entry here; Latin
 * letters are allowed everywhere, for the names that stay as they are
 * ("Matrix").
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SHIPPED_MESSAGES_DIR } from '../../../src/delivery/language-list';

/** Writing systems that are several Unicode scripts. */
const COMPOSITE: Readonly<Record<string, readonly string[]>> = { Jpan: ['Hani', 'Hira', 'Kana'], Kore: ['Hang', 'Hani'], Hans: ['Hani'], Hant: ['Hani'] };

function scriptPattern(tag: string): RegExp {
  const script = new Intl.Locale(tag).maximize().script ?? 'Latn';
  const scripts = ['Latn', 'Zyyy', 'Zinh', ...(COMPOSITE[script] ?? [script])];
  return new RegExp(`^(${scripts.map((name) => `\\p{Script=${name}}`).join('|')})$`, 'u');
}

/** The characters of a message outside its placeholders that its script does not have. */
function foreignCharacters(message: string, tag: string): string {
  const allowed = scriptPattern(tag);
  return [...message.replace(/\{[a-z_]+\}/g, '')].filter((char) => !allowed.test(char)).join('');
}

it('finds a letter of another script', () => {
  expect(foreignCharacters('نשانی', 'fa')).toBe('ש');
  expect(foreignCharacters('Cоde', 'en')).toBe('о');
  expect(foreignCharacters('認証コード：{code}。', 'ja')).toBe('');
  expect(foreignCharacters('{app_name} 인증 코드', 'ko')).toBe('');
});

const tags = readdirSync(SHIPPED_MESSAGES_DIR)
  .filter((name) => name.endsWith('.json') && name !== 'languages.json')
  .map((name) => name.replace(/\.json$/, ''));

it.each(tags)('%s is written in its own script', (tag) => {
  const catalog = JSON.parse(readFileSync(path.join(SHIPPED_MESSAGES_DIR, `${tag}.json`), 'utf8')) as Record<string, string>;
  const slips = Object.entries(catalog)
    .map(([key, message]) => ({ key, foreign: foreignCharacters(message, tag) }))
    .filter((entry) => entry.foreign !== '');
  expect(slips).toEqual([]);
});
