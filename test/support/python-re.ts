import { spawnSync } from 'node:child_process';

/** What Python 3's `re` says of one pattern and one text: a compile error, or `re.match` and `re.search`. */
export type PythonAnswer = { error: string } | { match: boolean; search: boolean };

const SCRIPT = `
import json, re, sys, warnings
warnings.simplefilter('ignore')
out = []
for pattern, text in json.load(sys.stdin):
    try:
        compiled = re.compile(pattern)
    except (re.error, OverflowError) as error:
        out.append({'error': str(error)})
        continue
    out.append({'match': compiled.match(text) is not None, 'search': compiled.search(text) is not None})
json.dump({'version': list(sys.version_info[:2]), 'answers': out}, sys.stdout)
`;

/**
 * Asks the real Python `re` (one `python3` process for all pairs). Python is the reference these
 * tests hold the translation to, so its absence is a failure, never a skip: CI has python3.
 */
export function askPython(pairs: ReadonlyArray<readonly [string, string]>): PythonAnswer[] {
  const run = spawnSync('python3', ['-c', SCRIPT], { input: JSON.stringify(pairs), encoding: 'utf8' });
  if (run.error || run.status !== 0) {
    throw new Error(`python3 is needed to compare with Python's re (CI has it): ${run.error?.message ?? run.stderr}`);
  }
  const { version, answers } = JSON.parse(run.stdout) as { version: [number, number]; answers: PythonAnswer[] };
  // Synapse's operators write for Python 3.11 and later (global flags only at the start, possessive quantifiers).
  if (version[0] < 3 || (version[0] === 3 && version[1] < 11)) throw new Error(`python3 is ${version.join('.')}: these tests need 3.11 or later`);
  return answers;
}
