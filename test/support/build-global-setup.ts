import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Jest global setup: compiles src/ to dist/ once per run, for the tests that
 * start the real sidecar process (`node dist/cli.js`).
 */
export default function build(): void {
  // Both jest projects call this; their global setups run in one process.
  if (process.env.THREEPID_DIST_BUILT) return;
  const root = path.resolve(__dirname, '../..');
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    const output = (err as { stdout?: Buffer }).stdout?.toString() ?? String(err);
    throw new Error(`building dist/ failed (tsc -p tsconfig.build.json):\n${output}`);
  }
  process.env.THREEPID_DIST_BUILT = '1';
}
