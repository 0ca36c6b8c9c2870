/**
 * The docs can be found and their links lead somewhere: every relative link
 * of the README and docs/ names a file that exists and, with a `#fragment`,
 * a heading of that file; every page of docs/ is in its contents; the README
 * stays short enough to read through.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { docFiles, readDoc, ROOT } from '../../support/doc-blocks';

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The markdown outside code blocks, where links are links. */
const prose = (text: string) => text.replace(/^(`{3,})[^\n]*\n[\s\S]*?^\1$/gm, '');

function anchorsOf(file: string): Set<string> {
  const headings = [...prose(readDoc(file)).matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1]));
  return new Set(headings);
}

const links = docFiles().flatMap((file) =>
  [...prose(readDoc(file)).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1])
    .filter((target) => !/^(https?|mailto):/.test(target))
    .map((target) => [file, target] as const),
);

it('are many', () => expect(links.length).toBeGreaterThan(50));

it.each(links)('%s links to %s, which exists', (file, target) => {
  const [pathPart, fragment] = target.split('#');
  const resolved = pathPart ? path.normalize(path.join(path.dirname(file), pathPart)) : file;
  expect(existsSync(path.join(ROOT, resolved))).toBe(true);
  if (fragment !== undefined && resolved.endsWith('.md')) expect([...anchorsOf(resolved)]).toContain(fragment);
});

it('every page of docs/ is in the contents, docs/README.md', () => {
  const contents = readDoc('docs/README.md');
  const listed = new Set([...contents.matchAll(/\]\(([^)#\s]+)/g)].map((match) => path.normalize(path.join('docs', match[1]))));
  const pages = docFiles().filter((file) => file.startsWith('docs/') && file !== 'docs/README.md');
  expect(pages.filter((page) => !listed.has(page))).toEqual([]);
});

it('the README fits on a few screens, the rest being in docs/', () => {
  expect(readDoc('README.md').split('\n').length).toBeLessThanOrEqual(160);
});
