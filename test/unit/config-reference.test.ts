import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { GENERATED_DIR, generatedFiles, undescribedKeys } from '../../scripts/config-reference';
import { section } from '../../src/config/common';

/*
 * docs/reference/configuration.md and the documented input type
 * (src/config/raw-config.ts, src/config/raw/) are generated from the
 * schema: committed as generated, from a schema whose every key says what
 * it does.
 */

const ROOT = path.resolve(__dirname, '../..');
const generated = generatedFiles();

/** Where a committed file first differs from what the schema gives, or undefined when it does not. */
function firstDifference(committed: string, expected: string): string | undefined {
  if (committed === expected) return undefined;
  const have = committed.split('\n');
  const want = expected.split('\n');
  const line = want.findIndex((text, index) => have[index] !== text);
  const at = line === -1 ? want.length : line;
  return `line ${at + 1}: committed ${JSON.stringify(have[at] ?? '(end of file)')}, the schema gives ${JSON.stringify(want[at] ?? '(end of file)')}`;
}

describe('the generated configuration reference', () => {
  it.each([...generated.keys()])('%s is what the schema gives', (file) => {
    const target = path.join(ROOT, file);
    const committed = existsSync(target) ? readFileSync(target, 'utf8') : '';
    const difference = firstDifference(committed, generated.get(file)!);
    if (difference) throw new Error(`${file} is stale (${difference}): run \`npm run docs:config\``);
  });

  it(`${GENERATED_DIR} holds no file the schema no longer gives`, () => {
    const stale = readdirSync(path.join(ROOT, GENERATED_DIR))
      .map((name) => `${GENERATED_DIR}/${name}`)
      .filter((file) => !generated.has(file));
    if (stale.length > 0) throw new Error(`${stale.join(', ')}: not generated any more: run \`npm run docs:config\``);
  });
});

describe('descriptions', () => {
  it('every key of the schema has one, at every depth', () => {
    const missing = undescribedKeys();
    if (missing.length > 0) throw new Error(`config keys without a description (.describe in src/config/): ${missing.join(', ')}`);
  });

  it('a key without one is named by its path, in a mapping, a list entry or a section', () => {
    const schema = z.object({
      described: z.string().describe('Has one.'),
      section: section(z.object({ inner: z.number().default(1), fine: z.boolean().default(false).describe('Has one.') }).default({})).describe('Has one.'),
      entries: z.array(z.object({ field: z.string() })).describe('Has one.'),
      bare: z.boolean().optional(),
    });
    expect(undescribedKeys(schema)).toEqual(['section.inner', 'entries[].field', 'bare']);
  });
});
