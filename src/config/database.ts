import { z } from 'zod';
import { SECRET_ENV, duration, secret, section, type Env, type Report, type Settings } from './common';

/** `database`: SQLite (the default) or PostgreSQL. */
export const DATABASE = section(
  z
    .object({
      engine: z.enum(['sqlite', 'postgres']).default('sqlite').describe('sqlite: one process, one file. postgres: several replicas share one database.'),
      path: z.string().min(1).default('data/threepid.sqlite').describe('SQLite: the database file, created with its folder if missing (WAL mode). Also where generated secrets are kept, beside it, with either engine.'),
      url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional().describe('PostgreSQL: the connection URL, `postgres://user:password@host:5432/name`. Required with `engine: postgres`.'),
      max_connections: z.number().int().min(1).max(1000).default(10).describe('PostgreSQL: the size of the connection pool.'),
      busy_timeout: duration('5s').describe('SQLite: how long a write waits for another process\'s write lock (a backup, an sqlite3 shell) before the request fails with 503.'),
      connect_timeout: duration('5s').describe('PostgreSQL: how long to wait for a connection, new or from a full pool, before the request fails with 503.'),
      statement_timeout: duration('5s').describe('PostgreSQL: how long the server may run one statement (its statement_timeout); migrations at start are not bound by it.'),
      query_timeout: duration('10s').describe('PostgreSQL: how long to wait for any answer at all, against a server that hangs; keep it above `statement_timeout`. Migrations at start are not bound by it.'),
    })
    .strict()
    .default({}),
);

export function toDatabase(raw: z.output<typeof DATABASE>, env: Env, report: Report) {
  if (raw.engine === 'sqlite') return { engine: 'sqlite' as const, path: raw.path, busyTimeoutMs: raw.busy_timeout };
  const url = secret('database.url', raw.url, env, report);
  if (!url) report('database.url', `is required when database.engine is "postgres" (or env ${SECRET_ENV['database.url']})`);
  const timeouts = { connectTimeoutMs: raw.connect_timeout, statementTimeoutMs: raw.statement_timeout, queryTimeoutMs: raw.query_timeout };
  return { engine: 'postgres' as const, url: url ?? '', maxConnections: raw.max_connections, path: raw.path, timeouts };
}

export type DatabaseSettings = Settings<ReturnType<typeof toDatabase>>;
