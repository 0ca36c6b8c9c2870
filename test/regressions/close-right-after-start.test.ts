// Regression: close() waited for the WAL checkpoint thread to let go of the
// file with nothing keeping the process alive meanwhile (the thread and the
// stop timer were both unref'd). A host with no other handle that created
// the module and closed it at once exited before close() resolved: whatever
// it meant to do after close() never ran. Jest's own handles hide this, so
// the host is a child process of its own.
import { spawn } from 'node:child_process';
import { withoutKeyGeneratedWarning } from '../support/process-warnings';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeDir, tempDir } from '../support/harness';

const DIST = path.resolve(__dirname, '../..', 'dist', 'index.js');

it('settles close() in a host with no other handles, which then exits by itself', async () => {
  const dir = tempDir('threepid-close-');
  try {
    const host = path.join(dir, 'host.js');
    writeFileSync(
      host,
      `const { createThreepidModule, parseConfig } = require(${JSON.stringify(DIST)});
(async () => {
  const config = parseConfig({
    public_baseurl: 'https://matrix.example.org',
    database: { path: ${JSON.stringify(path.join(dir, 'threepid.sqlite'))} },
    email: { dev_mail_dir: ${JSON.stringify(path.join(dir, 'mail'))} },
  });
  const module = await createThreepidModule({ config });
  await module.close();
  process.stdout.write('closed\\n');
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err));
  process.exitCode = 3;
});
`,
    );
    const child = spawn(process.execPath, [host], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    // Jest's timeout fails a host that never exits.
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.once('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    expect(withoutKeyGeneratedWarning(output)).toBe('closed\n');
    expect([code, signal]).toEqual([0, null]);
  } finally {
    removeDir(dir);
  }
}, 60_000);
