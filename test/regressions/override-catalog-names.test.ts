/**
 * An operator's `templates_dir/messages/`: a key named like an Object
 * method (`constructor`, `__proto__`) slipped past the unknown-key check and
 * failed later without naming file or key; a misspelt file name
 * (`pt_BR.json`, `fr.JSON`) was ignored without a word; and any tag-shaped
 * name (`xx.json`) became a language the menu offered.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Catalogs } from '../../src/delivery/catalogs';
import { removeDir, tempDir } from '../support/harness';

let dir: string;
beforeEach(() => {
  dir = tempDir('threepid-override-names-');
  mkdirSync(path.join(dir, 'messages'));
});
afterEach(() => removeDir(dir));

const write = (name: string, content: string) => writeFileSync(path.join(dir, 'messages', name), content);

it.each(['constructor', 'toString', 'hasOwnProperty'])('refuses the key %s as unknown, naming the file and the key', (key) => {
  write('de.json', JSON.stringify({ [key]: 'x' }));
  expect(() => new Catalogs(dir, 'en')).toThrow(new RegExp(`messages/de\\.json: unknown key ${key}`));
});

it('refuses __proto__ as an unknown key', () => {
  write('de.json', '{"__proto__": "x"}');
  expect(() => new Catalogs(dir, 'en')).toThrow(/messages\/de\.json: unknown key __proto__/);
});

it.each(['pt_BR.json', 'fr.JSON', 'en.json.bak'])('refuses a file it would not read, %s, naming it', (name) => {
  write(name, '{}');
  expect(() => new Catalogs(dir, 'en')).toThrow(new RegExp(`messages/${name.replace('.', '\\.')}: not a catalog`));
});

it('refuses a catalog for a tag the engine knows as no language', () => {
  write('xx.json', '{}');
  expect(() => new Catalogs(dir, 'en')).toThrow(/xx is not a language tag the engine knows/);
});

it('still takes an operator catalog for a real language the module lacks', () => {
  write('hr.json', JSON.stringify({ 'page.failure.expired': 'Ova je poveznica istekla.' }));
  expect(new Catalogs(dir, 'en').languages).toContain('hr');
});
