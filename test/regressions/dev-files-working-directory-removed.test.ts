/**
 * The sidecar's working directory removed under it (a checkout deleted, a
 * scratch folder cleaned up) made the development mail transport's
 * recursive mkdir of `data/mail` spin for ever on every message, a core
 * busy: Node's recursive mkdir of a relative path never ends once the
 * working directory is gone. The folder is made absolute at start.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DevMessageFiles } from '../../src/delivery/dev-files';
import { removeDir, tempDir } from '../support/harness';

it('writes the message where the folder was, after the working directory is removed', async () => {
  const parent = tempDir('threepid-cwd-removed-');
  const workdir = path.join(parent, 'work');
  mkdirSync(workdir);
  const before = process.cwd();
  process.chdir(workdir);
  try {
    const files = new DevMessageFiles('data/mail');
    rmSync(workdir, { recursive: true });
    const written = await files.write({ txt: 'hello' });
    expect(path.dirname(written)).toBe(path.join(workdir, 'data/mail'));
    expect(existsSync(`${written}.txt`)).toBe(true);
    expect(readdirSync(path.join(workdir, 'data/mail'))).toHaveLength(1);
  } finally {
    process.chdir(before);
    removeDir(parent);
  }
}, 10_000);
