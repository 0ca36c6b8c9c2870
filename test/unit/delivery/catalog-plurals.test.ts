/**
 * Each catalog's plurals have the forms its language has: every plural
 * category the engine's Intl.PluralRules gives the language (Russian one,
 * few, many, other; Arabic six; Japanese other alone), so no count falls to
 * a form written for another. Categories a newer CLDR adds (French `many`)
 * may be there on an engine that lacks them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SHIPPED_MESSAGES_DIR } from '../../../src/delivery/language-list';
import { parseMessage } from '../../../src/delivery/message-format';

const PLURAL = 6;
const TAG = 8;
const SELECT = 5;
const CLDR_CATEGORIES = ['zero', 'one', 'two', 'few', 'many', 'other'];

type Element = ReturnType<typeof parseMessage>[number];

/** The forms of every plural in a message, by argument. */
function pluralForms(elements: Element[]): Array<{ argument: string; forms: string[] }> {
  return elements.flatMap((element) => {
    if (element.type === PLURAL && element.pluralType !== 'ordinal') {
      const inner = Object.values(element.options).flatMap((option) => pluralForms(option.value));
      return [{ argument: element.value, forms: Object.keys(element.options).filter((form) => !form.startsWith('=')) }, ...inner];
    }
    if (element.type === SELECT || element.type === PLURAL) return Object.values(element.options).flatMap((option) => pluralForms(option.value));
    if (element.type === TAG) return pluralForms(element.children);
    return [];
  });
}

const tags = readdirSync(SHIPPED_MESSAGES_DIR)
  .filter((name) => name.endsWith('.json') && name !== 'languages.json')
  .map((name) => name.replace(/\.json$/, ''));

it('finds the forms of a plural', () => {
  expect(pluralForms(parseMessage('{n, plural, =0 {none} one {# a} few {# b} many {# c} other {# d}}', 'ru'))).toEqual([
    { argument: 'n', forms: ['one', 'few', 'many', 'other'] },
  ]);
});

it.each(tags)('%s writes every plural form its language has, and only forms CLDR knows', (tag) => {
  const categories = new Intl.PluralRules(tag).resolvedOptions().pluralCategories;
  const catalog = JSON.parse(readFileSync(path.join(SHIPPED_MESSAGES_DIR, `${tag}.json`), 'utf8')) as Record<string, string>;
  const plurals = Object.entries(catalog).flatMap(([key, message]) => pluralForms(parseMessage(message, tag)).map((plural) => ({ key, ...plural })));
  for (const plural of plurals) {
    expect({ ...plural, missing: categories.filter((category) => !plural.forms.includes(category)) }).toEqual({ ...plural, missing: [] });
    expect({ ...plural, unknown: plural.forms.filter((form) => !CLDR_CATEGORIES.includes(form)) }).toEqual({ ...plural, unknown: [] });
  }
});
