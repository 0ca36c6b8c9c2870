import { existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DatabaseSettings } from '../config';
import { migrateToLatest } from './migrations';
import type { Database } from './schema';

/** Bytes 18 and 19 of a SQLite file's header: 2 for WAL, 1 for a rollback journal. */
const FILE_FORMAT_OFFSETS = [18, 19];

/**
 * Applies the pending migrations of a SQLite file to a copy of it in memory,
 * so that `--check` finds a migration that would fail at start (a host's own
 * table under one of the module's names), changing nothing in the file.
 * Costs a copy of the file in memory: `--check` calls it only when a
 * migration is pending. PostgreSQL is not tried: its pending migrations run
 * in one transaction at start, which a failure rolls back whole.
 * @throws Error naming the migration that would fail.
 */
export async function tryPendingMigrations(settings: DatabaseSettings): Promise<void> {
  if (settings.engine !== 'sqlite' || settings.path === ':memory:' || !existsSync(settings.path)) return;
  const file = new BetterSqlite3(settings.path, { readonly: true, fileMustExist: true });
  let image: Buffer;
  try {
    image = file.serialize();
  } finally {
    file.close();
  }
  // A memory database has no WAL: the copy says it uses a rollback journal.
  for (const offset of FILE_FORMAT_OFFSETS) image[offset] = 1;
  const copy = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(image) }) });
  try {
    await migrateToLatest(copy, 'sqlite');
  } finally {
    await copy.destroy();
  }
}
