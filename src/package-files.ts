import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const PACKAGE_NAME = 'matrix-hs-threepid';

function isPackageRoot(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

let root: string | undefined;

/**
 * The folder the package lives in, which holds `sql/`, `templates/` and
 * `dist/threads/`. Found from this file when it runs from the package's own
 * `src/` or `dist/`; when a host has bundled the module into a file of its
 * own (esbuild, webpack), this file's folder is the host's, so the package
 * is found by name in `node_modules` instead. Failing both, this file's
 * parent folder (a copy of `sql/` and `templates/` may be put beside it).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const here = path.resolve(__dirname, '..');
  if (isPackageRoot(here)) return (root = here);
  try {
    return (root = path.dirname(require.resolve(`${PACKAGE_NAME}/package.json`)));
  } catch {
    return (root = here);
  }
}

/**
 * The file a worker thread of the module starts from: `threads/<name>.js`,
 * shipped in the package's `dist/`. Never this module's own file, which in
 * a bundled host would be the host's whole bundle. Looked for beside the
 * compiled code first (a bundling host may copy `dist/threads/` next to its
 * bundle), then in the package's `dist/` (also what runs under ts-jest,
 * where the code is TypeScript). Undefined when neither exists.
 */
export function threadEntryFile(name: 'background'): string | undefined {
  const candidates = [
    ...(__filename.endsWith('.js') ? [path.join(__dirname, 'threads', `${name}.js`)] : []),
    path.join(packageRoot(), 'dist', 'threads', `${name}.js`),
  ];
  return candidates.find((file) => existsSync(file));
}
