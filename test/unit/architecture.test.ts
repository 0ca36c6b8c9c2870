import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// The shape of src/: data flows one way (HTTP in → domain → store / senders),
// and the domain and the HTTP layer know nothing of the adapters below them
// but the shared data model (src/model.ts). The rules are read off the
// import graph, type-only imports included.

const SRC = path.resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return sourceFiles(file);
    return file.endsWith('.ts') ? [file] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => existsSync(candidate));
}

const rel = (file: string) => path.relative(SRC, file).split(path.sep).join('/');

/** Each file of src/ (relative) → the files of src/ it imports. */
const graph = new Map<string, string[]>(
  sourceFiles(SRC).map((file) => {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles.map((entry) => resolveImport(file, entry.fileName)).filter((f): f is string => f !== undefined);
    return [rel(file), [...new Set(targets.map(rel))]];
  }),
);

/** Every strongly connected group of more than one file, or of a file importing itself (Tarjan). */
function circles(): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, counter);
    low.set(file, counter);
    counter += 1;
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== file);
      if (group.length > 1 || (graph.get(file) ?? []).includes(file)) found.push(group.sort());
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

const UPPER = /^(threepid|http)\//;
const ADAPTERS = /^(store|delivery|identity|homeserver|config)\//;

const MAX_LINES = 300;

it('has no import circle in src/', () => {
  expect(circles()).toEqual([]);
});

it('keeps the domain and HTTP layers off the adapters: they reach them only through the ports (threepid/ports.ts)', () => {
  const found = [...graph].flatMap(([file, targets]) =>
    UPPER.test(file) ? targets.filter((target) => ADAPTERS.test(target)).map((target) => `${file} -> ${target}`) : [],
  );
  expect(found).toEqual([]);
});

it('keeps every file of src/ under 300 lines', () => {
  const long = [...graph.keys()].filter((file) => readFileSync(path.join(SRC, file), 'utf8').split('\n').length > MAX_LINES);
  expect(long).toEqual([]);
});

it('has a data model that imports nothing', () => {
  expect(graph.get('model.ts')).toEqual([]);
  expect(readFileSync(path.join(SRC, 'model.ts'), 'utf8')).not.toMatch(/^import /m);
});

it('keeps the sources of time and randomness, and the host-name form, free of imports from src/', () => {
  expect(graph.get('sources.ts')).toEqual([]);
  expect(graph.get('hosts.ts')).toEqual([]);
});
