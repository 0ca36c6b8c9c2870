import { z } from 'zod';
import { SECRET_ENV, duration, secret, section, type Env, type Report, type Settings } from './common';

/** `database`: SQLite (the default) or PostgreSQL. */
export const DATABASE = section(
  z
    .object({
      engine: z.enum(['sqlite', 'postgres']).default('sqlite'),
      path: z.string().min(1).default('data/threepid.sqlite'),
      url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
      max_connections: z.number().int().min(1).max(1000).default(10),
      // SQLite: how long a write waits for another process's write lock.
      busy_timeout: duration('5s'),
      // PostgreSQL: to connect (or get a pooled connection), for the server
      // to run a statement, and for any answer at all.
      connect_timeout: duration('5s'),
      statement_timeout: duration('5s'),
      query_timeout: duration('10s'),
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
