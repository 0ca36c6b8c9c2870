/**
 * The fenced code blocks of the README and of docs/, each with the check
 * that holds it: an HTML comment on the line before the fence,
 * `<!-- check: KIND [argument] -->`, says how a test runs or reads it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

export interface DocBlock {
  /** The markdown file, relative to the repository. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's info string (`yaml`, `ts`, `sh`…), or ''. */
  readonly lang: string;
  /** The check's kind and argument; undefined when the block has no check comment. */
  readonly check?: string;
  readonly argument?: string;
  /** What is between the fences, with its final newline. */
  readonly text: string;
  /** The markdown above the block since the previous block or heading. */
  readonly before: string;
  /** The nearest heading above the block. */
  readonly heading: string;
}

/** README.md and every markdown file under docs/, relative to the repository. */
export function docFiles(): string[] {
  const under = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? under(path.join(dir, entry.name)) : entry.name.endsWith('.md') ? [path.join(dir, entry.name)] : [],
    );
  return ['README.md', ...under('docs').sort()];
}

export function readDoc(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

export function blocksOf(file: string): DocBlock[] {
  const lines = readDoc(file).split('\n');
  const blocks: DocBlock[] = [];
  let heading = '';
  let since: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(`{3,})(\S*)\s*$/.exec(lines[i]);
    if (!fence) {
      const title = /^#{1,6} (.+)$/.exec(lines[i]);
      if (title) {
        heading = title[1];
        since = [];
      } else {
        since.push(lines[i]);
      }
      continue;
    }
    const close = lines.findIndex((line, j) => j > i && line === fence[1]);
    if (close < 0) throw new Error(`${file}:${i + 1}: a code block that is never closed`);
    const marker = /^<!-- check: (\S+)(?: (.+?))? -->$/.exec(lines[i - 1] ?? '');
    blocks.push({
      file,
      line: i + 1,
      lang: fence[2],
      check: marker?.[1],
      argument: marker?.[2],
      text: lines.slice(i + 1, close).join('\n') + '\n',
      before: since.join('\n'),
      heading,
    });
    since = [];
    i = close;
  }
  return blocks;
}

export function allBlocks(): DocBlock[] {
  return docFiles().flatMap(blocksOf);
}

export function blocksChecked(kind: string): DocBlock[] {
  return allBlocks().filter((block) => block.check === kind);
}

export const where = (block: DocBlock) => `${block.file}:${block.line}`;
