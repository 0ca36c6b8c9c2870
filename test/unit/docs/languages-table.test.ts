import { existsSync } from 'node:fs';
import path from 'node:path';
import { languageList, SHIPPED_MESSAGES_DIR } from '../../../src/delivery/language-list';
import { readDoc } from '../../support/doc-blocks';

const DOC = 'docs/topics/languages-and-branding.md';

/** The table as the list and the catalogs make it, one row per listed language. */
function expectedRows(): string[] {
  return [...languageList()].map(([tag, info]) => {
    const browserTags = info.browserTags.map((alias) => `\`${alias}\``).join(', ') || '—';
    const shipped = existsSync(path.join(SHIPPED_MESSAGES_DIR, `${tag}.json`)) ? 'yes' : 'not yet';
    return `| \`${tag}\` | ${info.name} | ${info.dir} | ${browserTags} | ${shipped} |`;
  });
}

it(`${DOC} lists the languages as templates/messages/languages.json and the catalogs say (paste the rows this test prints)`, () => {
  const rows = readDoc(DOC)
    .split('\n')
    .filter((line) => /^\| `[^`]+` \|/.test(line));
  expect(rows.join('\n')).toBe(expectedRows().join('\n'));
});
