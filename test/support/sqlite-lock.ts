import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface SqliteLockHolder {
  /** Ends the other process's transaction (the lock is free once this resolves). */
  release(): Promise<void>;
}

/**
 * Another process holding SQLite's write lock on `file`: a child node
 * process with its own better-sqlite3 connection in `BEGIN IMMEDIATE`, as a
 * backup tool or an operator's sqlite3 shell would. Resolves once it holds it.
 */
export async function holdSqliteWriteLock(file: string): Promise<SqliteLockHolder> {
  const script = `
    const db = new (require(${JSON.stringify(require.resolve('better-sqlite3'))}))(${JSON.stringify(file)});
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before taking the lock`)));
  });
  return {
    async release() {
      if (child.exitCode !== null) return;
      child.stdin!.end('release\n');
      await exited;
    },
  };
}
