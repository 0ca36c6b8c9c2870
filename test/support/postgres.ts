import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { Client } from 'pg';
import { openPostgresDatabase, openSqliteDatabase } from '../../src/store/database';
import type { Database } from '../../src/store/schema';

const execFileAsync = promisify(execFile);

/** The engine the e2e tests run on: the jest project sets it. */
export function testEngine(): 'sqlite' | 'postgres' {
  return process.env.THREEPID_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PostgresServer {
  /** Admin URL: postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  stop(): void;
  /** `pg_ctl -m fast restart`: every connection is ended (57P01), and the server is back when this returns. */
  restart(): Promise<void>;
  /** `pg_ctl -m fast stop`, keeping the data: connections are refused until {@link start}. */
  halt(): Promise<void>;
  /** Starts a {@link halt}ed server again, on the same port and data. */
  start(): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: connections stay open and nothing answers. */
  suspend(): void;
  /** SIGCONT to whatever {@link suspend} stopped. */
  resume(): void;
}

/**
 * A throwaway PostgreSQL cluster on loopback: Debian's binaries (installed by
 * setup-postgres.sh when missing), a temp data folder, trust auth, fsync off.
 * Run as the `postgres` user when we are root (initdb refuses root).
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bindir = execFileSync('bash', [path.join(__dirname, 'setup-postgres.sh')], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'threepid-pg-'));
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
  }
  const run = (binary: string, args: string[]) =>
    asPostgres
      ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(bindir, binary), ...args], { stdio: 'pipe' })
      : execFileSync(path.join(bindir, binary), args, { stdio: 'pipe' });
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const startOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300`;
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', 'start', '-o', startOptions]);
  const postmasterPid = () => Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let suspended: number[] = [];
  const resume = () => {
    for (const pid of suspended) process.kill(pid, 'SIGCONT');
    suspended = [];
  };
  // Without blocking the event loop: a test's requests keep going meanwhile.
  const pgCtl = async (args: string[]) => {
    const binary = path.join(bindir, 'pg_ctl');
    await (asPostgres ? execFileAsync('runuser', ['-u', 'postgres', '--', binary, ...args]) : execFileAsync(binary, args));
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: () => pgCtl(['-D', data, '-l', path.join(dir, 'server.log'), '-m', 'fast', '-w', 'restart', '-o', startOptions]),
    halt: () => pgCtl(['-D', data, '-m', 'fast', '-w', 'stop']),
    start: () => pgCtl(['-D', data, '-l', path.join(dir, 'server.log'), '-w', 'start', '-o', startOptions]),
    suspend() {
      // The postmaster first: stopped, it forks no backend the list would miss.
      const postmaster = postmasterPid();
      process.kill(postmaster, 'SIGSTOP');
      suspended = [postmaster];
      const backends = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
      for (const pid of backends) process.kill(pid, 'SIGSTOP');
      suspended.push(...backends);
    },
    resume,
    stop() {
      try {
        resume();
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The database a test's SQLite path stands for on PostgreSQL: one database
 * per path, created on first use, so a test that restarts the module on the
 * same file gets the same data back.
 */
export async function postgresDatabaseFor(file: string): Promise<string> {
  const admin = process.env.THREEPID_TEST_PG_URL;
  if (!admin) throw new Error('THREEPID_TEST_PG_URL is not set: the postgres jest project starts the server');
  const name = `t_${createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 24)}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } catch (err) {
        if ((err as { code?: string }).code !== '42P04') throw err; // created meanwhile
      }
    }
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one query on the database behind a test's SQLite path (either engine). */
export async function queryTestDatabase<T>(file: string, text: string, params: unknown[]): Promise<T[]> {
  const client = new Client({ connectionString: await postgresDatabaseFor(file) });
  await client.connect();
  try {
    let index = 0;
    const result = await client.query(text.replace(/\?/g, () => `$${++index}`), params);
    return result.rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * A migrated database for store-level tests, on the project's engine: a
 * SQLite file in `dir`, or (on the postgres project) the PostgreSQL database
 * that file stands for. The same test then proves the same behaviour on both.
 */
export async function openTestDatabase(dir: string): Promise<{ db: Kysely<Database>; engine: 'sqlite' | 'postgres' }> {
  const file = path.join(dir, 'threepid.sqlite');
  return testEngine() === 'postgres'
    ? { db: await openPostgresDatabase(await postgresDatabaseFor(file), 4), engine: 'postgres' }
    : { db: await openSqliteDatabase(file), engine: 'sqlite' };
}

/**
 * A raw row with its counters and times as numbers on both engines: node-pg
 * returns BIGINT columns as strings (the store's own reads convert them).
 */
export function rowNumbers<T extends object>(row: T): T {
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => [
      key,
      /(_at|_until|attempts)$/.test(key) && typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value,
    ]),
  ) as T;
}
