import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where the development transports put messages: files named for the time
 * and the process, never the recipient (the name is logged), readable only
 * by their owner (they hold tokens).
 */
export class DevMessageFiles {
  private counter = 0;

  private readonly dir: string;

  /**
   * `dir` is made absolute now, while the working directory exists: Node's
   * recursive mkdir of a relative path spins for ever, a core busy, once
   * the working directory is removed.
   */
  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  /** Writes one file per `extension → content`, all with the same name; answers the name without extension. */
  async write(contents: Readonly<Record<string, string | Buffer>>): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const base = path.resolve(this.dir, `${Date.now()}-${process.pid}-${++this.counter}`);
    for (const [extension, content] of Object.entries(contents)) {
      await writeFile(`${base}.${extension}`, content, { mode: 0o600 });
    }
    return base;
  }
}
