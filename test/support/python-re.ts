import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

const ENSURE = path.resolve(__dirname, 'ensure-debian-packages.sh');
let ensured = false;

/** Installs python3 from Debian's packages when missing (the project's own script), once per test file. */
function ensurePython(): void {
  if (ensured) return;
  try {
    execFileSync('bash', [ENSURE, 'python3', 'python3'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  } catch (err) {
    throw new Error(`ensure-debian-packages.sh python3 failed:\n${(err as { stderr?: Buffer }).stderr?.toString() ?? String(err)}`);
  }
  ensured = true;
}

/** What Python 3's `re` says of one pattern and one text: a compile error, or `re.match` and `re.search`. */
export type PythonAnswer = { error: string } | { match: boolean; search: boolean };

const SCRIPT = `
import json, re, sys, warnings
warnings.simplefilter('ignore')
out = []
for pattern, text in json.load(sys.stdin):
    try:
        compiled = re.compile(pattern)
    except (re.error, OverflowError, ValueError) as error:
        out.append({'error': str(error)})
        continue
    out.append({'match': compiled.match(text) is not None, 'search': compiled.search(text) is not None})
json.dump({'version': list(sys.version_info[:2]), 'answers': out}, sys.stdout)
`;

/**
 * Asks the real Python `re` (one `python3` process for all pairs). Python is the reference these
 * tests hold the translation to, so it is installed when missing, and its absence is a failure, never a skip.
 */
export function askPython(pairs: ReadonlyArray<readonly [string, string]>): PythonAnswer[] {
  ensurePython();
  const run = spawnSync('python3', ['-c', SCRIPT], { input: JSON.stringify(pairs), encoding: 'utf8' });
  if (run.error || run.status !== 0) {
    throw new Error(`python3 is needed to compare with Python's re (CI has it): ${run.error?.message ?? run.stderr}`);
  }
  const { version, answers } = JSON.parse(run.stdout) as { version: [number, number]; answers: PythonAnswer[] };
  // Synapse's operators write for Python 3.11 and later (global flags only at the start, possessive quantifiers).
  if (version[0] < 3 || (version[0] === 3 && version[1] < 11)) throw new Error(`python3 is ${version.join('.')}: these tests need 3.11 or later`);
  return answers;
}
