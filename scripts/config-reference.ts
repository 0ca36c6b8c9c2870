/**
 * Writes the configuration reference (docs/reference/configuration.md) and
 * the config's documented input type (src/config/raw-config.ts, raw/*.ts)
 * from the schema, and the list of languages (docs/reference/languages.md)
 * from templates/messages/languages.json. Run with `npm run docs`; a unit test fails while
 * either is stale, or while a key has no description.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { rawSchema } from '../src/config/schema';
import { allKeys, configKeys } from './config-reference/keys';
import { languagesMarkdown } from './config-reference/languages';
import { configurationMarkdown } from './config-reference/markdown';
import { typescriptFiles } from './config-reference/typescript';

/** The folder generated wholly: a file of it the schema no longer gives is removed. */
export const GENERATED_DIR = 'src/config/raw';

/** Each generated file's content, by its path from the repository's root. */
export function generatedFiles(): Map<string, string> {
  const keys = configKeys(rawSchema);
  return new Map([
    ['docs/reference/configuration.md', configurationMarkdown(keys)],
    ['docs/reference/languages.md', languagesMarkdown()],
    ...typescriptFiles(keys),
  ]);
}

/** Every key, at any depth, that has no description, by its path. */
export function undescribedKeys(schema: z.ZodObject<z.ZodRawShape> = rawSchema): string[] {
  return allKeys(configKeys(schema))
    .filter((key) => !key.description?.trim())
    .map((key) => key.path);
}

/** The repository's root: the nearest folder above with a package.json (this file runs from scripts/ or dist-scripts/scripts/). */
export function repositoryRoot(from = __dirname): string {
  return existsSync(path.join(from, 'package.json')) ? from : repositoryRoot(path.dirname(from));
}

function main(): void {
  const missing = undescribedKeys();
  if (missing.length > 0) {
    process.stderr.write(`config keys without a description (.describe in src/config/): ${missing.join(', ')}\n`);
    process.exitCode = 1;
    return;
  }
  const root = repositoryRoot();
  const files = generatedFiles();
  const dir = path.join(root, GENERATED_DIR);
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) if (!files.has(`${GENERATED_DIR}/${name}`)) rmSync(path.join(dir, name));
  }
  for (const [file, content] of files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
    process.stdout.write(`wrote ${file}\n`);
  }
}

if (require.main === module) main();
