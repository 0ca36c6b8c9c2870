// Regression: `email.default_language` was described (in the schema, so in
// the configuration reference, and in config.sample.yaml) as a language
// "there are templates for (a folder in templates/)": languages are catalogs,
// `templates/messages/<tag>.json`, and no folder in templates/ is one.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const described = {
  'the configuration reference': readFileSync(path.join(ROOT, 'docs/reference/configuration.md'), 'utf8').split('\n').find((line) => line.includes('default_language'))!,
  'config.sample.yaml': (() => {
    const lines = readFileSync(path.join(ROOT, 'config.sample.yaml'), 'utf8').split('\n');
    const at = lines.findIndex((line) => /^\s*default_language:/.test(line));
    let start = at;
    while (start > 0 && /^\s*#/.test(lines[start - 1])) start--;
    return lines.slice(start, at).join(' ');
  })(),
};

it.each(Object.entries(described))('%s says a language is a catalog, templates/messages/<tag>.json, which ships for every language it names', (_where, text) => {
  expect(text).toMatch(/templates\/messages\/<tag>\.json/);
  expect(text).not.toMatch(/folder/);
  expect(existsSync(path.join(ROOT, 'templates/messages/en.json'))).toBe(true);
});
