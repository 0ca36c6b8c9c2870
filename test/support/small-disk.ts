/**
 * A real small disk for tests of a full one: a 4 MiB tmpfs of its own,
 * mounted in a fresh temporary directory (mounting needs root).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { removeDir, tempDir } from './harness';

export const canMountSmallDisk = process.getuid?.() === 0;

export interface SmallDisk {
  /** The temporary directory, on the ordinary disk. */
  dir: string;
  /** Where the small file system is mounted, inside `dir`. */
  root: string;
  /** Unmounts the file system and removes the directory. */
  release(): void;
}

/**
 * Mounts the small file system; with `mount: false` (a run without root),
 * `root` is a plain directory, so the tests that need no full disk still run.
 */
export function makeSmallDisk(prefix: string, mount = true): SmallDisk {
  const dir = tempDir(prefix);
  const root = path.join(dir, 'small');
  mkdirSync(root);
  if (mount) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', root]);
  return {
    dir,
    root,
    release() {
      if (mount) execFileSync('umount', [root]);
      removeDir(dir);
    },
  };
}

/** Writes `file` until the file system has no room left. */
export function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}
