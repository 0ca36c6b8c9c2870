/**
 * Right-to-left pages and emails mirror only when their layouts say
 * start and end, never left and right: one physical property, and an
 * Arabic, Hebrew or Persian reader gets a margin on the wrong side.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const TEMPLATES = path.resolve(__dirname, '../../../templates');
const PHYSICAL = /\b(?:(?:margin|padding|border)-(?:left|right)|left|right)\s*:|\b(?:text-align|float|clear)\s*:\s*(?:left|right)\b/g;

function layouts(): string[] {
  return ['pages', 'email'].flatMap((folder) =>
    readdirSync(path.join(TEMPLATES, folder))
      .filter((name) => name.endsWith('.html'))
      .map((name) => path.join(folder, name)),
  );
}

it('the page and HTML email layouts use logical CSS properties alone, so they mirror in right-to-left languages', () => {
  const files = layouts();
  expect(files.length).toBeGreaterThan(10);
  const physical = files.flatMap((file) => [...readFileSync(path.join(TEMPLATES, file), 'utf8').matchAll(PHYSICAL)].map((m) => `${file}: ${m[0]}`));
  expect(physical).toEqual([]);
  // The layouts do say where things go: the test reads real CSS.
  expect(files.filter((file) => /(?:margin|padding)-inline|text-align:\s*start/.test(readFileSync(path.join(TEMPLATES, file), 'utf8'))).length).toBeGreaterThan(0);
});
