import { z } from 'zod';
import { SECRET_ENV, secret, section, type Env, type Report, type Settings } from './common';

/** `database`: SQLite (the default) or PostgreSQL. */
export const DATABASE = section(
  z
    .object({
      engine: z.enum(['sqlite', 'postgres']).default('sqlite'),
      path: z.string().min(1).default('data/threepid.sqlite'),
      url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
      max_connections: z.number().int().min(1).max(1000).default(10),
    })
    .strict()
    .default({}),
);

export function toDatabase(raw: z.output<typeof DATABASE>, env: Env, report: Report) {
  if (raw.engine === 'sqlite') return { engine: 'sqlite' as const, path: raw.path };
  const url = secret('database.url', raw.url, env, report);
  if (!url) report('database.url', `is required when database.engine is "postgres" (or env ${SECRET_ENV['database.url']})`);
  return { engine: 'postgres' as const, url: url ?? '', maxConnections: raw.max_connections, path: raw.path };
}

export type DatabaseSettings = Settings<ReturnType<typeof toDatabase>>;
