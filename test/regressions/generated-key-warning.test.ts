// Regression: a host that gave no logger never heard that the module
// generated its outbox key file (which must be backed up, and shared by
// replicas): the warning went to the silent logger only. Now it is a
// process warning, which Node writes to stderr: checked in a real host process.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { removeDir, tempDir } from '../support/harness';

const DIST = path.resolve(__dirname, '../../dist/index.js');

/** A host process that starts the module over `databasePath` and stops it; its stderr. */
async function hostStderr(databasePath: string, withLogger: boolean): Promise<string> {
  const script = `
    const { createThreepidModule, parseConfig } = require(${JSON.stringify(DIST)});
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    (async () => {
      const config = parseConfig({ database: { path: ${JSON.stringify(databasePath)} } });
      const module = await createThreepidModule({ config, processMetrics: false, ${withLogger ? 'logger: quiet' : ''} });
      await module.close();
    })();`;
  const { stderr } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 60_000 });
  return stderr;
}

describe('the generated outbox key file', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => removeDir(dir));

  it('is one line on stderr naming the file when the host gave no logger, and only when it is generated', async () => {
    const database = path.join(dir, 'threepid.sqlite');
    const first = await hostStderr(database, false);
    const lines = first.split('\n').filter((line) => line.includes('THREEPID_OUTBOX_KEY_GENERATED'));
    expect(lines).toEqual([expect.stringContaining(path.join(dir, 'outbox-keys'))]);
    expect(await hostStderr(database, false)).not.toContain('THREEPID_OUTBOX_KEY_GENERATED'); // the file exists now
  });

  it('goes to the logger alone when the host gave one', async () => {
    expect(await hostStderr(path.join(dir, 'threepid.sqlite'), true)).not.toContain('THREEPID_OUTBOX_KEY_GENERATED');
  });
});
