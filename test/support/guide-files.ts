import ts from 'typescript';
import { blocksOf, where } from './doc-blocks';

/** A guide's project: file path → content, as the reader would write them. */
export type GuideProject = Record<string, string>;

export interface Guide {
  /** The ES module project, each file a block checked `guide-file PATH`. */
  readonly esm: GuideProject;
  /** The same with the blocks checked `guide-file-commonjs PATH` put in, as the guide says. */
  readonly commonjs: GuideProject;
  /** The blocks checked `guide-install` and `guide-run`: the commands the reader types. */
  readonly install: string;
  readonly run: string;
}

/**
 * The project a guide in docs/ shows in full. The CommonJS `src/host.ts` is
 * a wrapper whose one `// …everything after the imports…` line stands for
 * the ES module host's body.
 */
export function guideOf(file: string): Guide {
  const blocks = blocksOf(file);
  const esm: GuideProject = {};
  const commonjsChanges: GuideProject = {};
  const commands: Record<string, string> = {};
  for (const block of blocks) {
    if (block.check === 'guide-install' || block.check === 'guide-run') {
      if (commands[block.check] !== undefined) throw new Error(`${where(block)}: a second ${block.check} block`);
      commands[block.check] = block.text;
    }
    if (block.check !== 'guide-file' && block.check !== 'guide-file-commonjs') continue;
    const files = block.check === 'guide-file' ? esm : commonjsChanges;
    if (!block.argument || files[block.argument] !== undefined) throw new Error(`${where(block)}: a file named twice, or not named`);
    files[block.argument] = block.text;
  }
  const commonjs = { ...esm, ...commonjsChanges };
  const wrapper = commonjsChanges['src/host.ts'];
  const host = esm['src/host.ts'];
  if (wrapper !== undefined && host !== undefined) {
    const placeholder = wrapper.split('\n').filter((line) => /^\s*\/\/ …everything after the imports/.test(line));
    if (placeholder.length !== 1) throw new Error('the CommonJS wrapper must stand for the ES module host body on one line');
    const { imports, body } = splitAfterImports(host);
    commonjs['src/host.ts'] = `${imports}\n${wrapper.replace(placeholder[0], () => body)}`;
  }
  return { esm, commonjs, install: commands['guide-install'] ?? '', run: commands['guide-run'] ?? '' };
}

/** A module's import declarations, and everything after the last of them. */
function splitAfterImports(source: string): { imports: string; body: string } {
  const file = ts.createSourceFile('host.ts', source, ts.ScriptTarget.Latest, true);
  const imports = file.statements.filter(ts.isImportDeclaration);
  const last = imports[imports.length - 1];
  if (!last || file.statements.indexOf(last) !== imports.length - 1) throw new Error('the host must begin with all its imports');
  return { imports: source.slice(0, last.end), body: source.slice(last.end) };
}
